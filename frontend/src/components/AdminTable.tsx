import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { LoadError } from "./LoadError";

interface Props<T> {
  /** What the rows are, in the plural: "users". Names the table and its messages. */
  what: string;
  query: UseQueryResult<T[]>;
  /** Column headings; a last column for each row's actions is added. */
  columns: readonly string[];
  /** One <tr> per item. */
  row: (item: T) => ReactNode;
}

/** An admin list: loading and error states, then a table with an actions column. */
export function AdminTable<T>({ what, query, columns, row }: Props<T>) {
  if (query.isPending) return <p className="muted">Loading {what}…</p>;
  if (query.isError) {
    return <LoadError what={what} error={query.error} onRetry={() => void query.refetch()} />;
  }
  const label = what.charAt(0).toUpperCase() + what.slice(1);
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>{query.data.map(row)}</tbody>
      </table>
      {query.data.length === 0 && <p className="empty">No {what} yet.</p>}
    </div>
  );
}
