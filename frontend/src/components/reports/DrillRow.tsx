import type { MouseEvent, ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { historyLink } from "./history";

interface Props {
  /** The row's heading: a link to its conversations, for the keyboard and a new tab. */
  name: string;
  query: string;
  children: ReactNode;
}

/** A table row that opens the History of exactly the conversations it counts, wherever it
 * is clicked. */
export function DrillRow({ name, query, children }: Props) {
  const navigate = useNavigate();
  const to = historyLink(query);
  const click = (event: MouseEvent<HTMLTableRowElement>) => {
    // The link handles its own clicks (and a new tab); a text selection is not a click.
    if ((event.target as Element).closest("a") || window.getSelection()?.toString()) return;
    void navigate(to);
  };
  return (
    <tr className="drill-row" onClick={click}>
      <th scope="row">
        <Link to={to}>{name}</Link>
      </th>
      {children}
    </tr>
  );
}
