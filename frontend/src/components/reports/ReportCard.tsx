import type { ReactNode } from "react";
import { csvUrl, type ReportScope, type ReportTable } from "../../api/reports";
import { ChartCard } from "../ChartCard";

interface Props {
  title: string;
  table: ReportTable;
  scope: ReportScope;
  /** One sentence on what it shows, read out with the chart. */
  description?: string;
  /** The chart itself; a card without one shows only `children`. */
  chart?: ReactNode;
  /** The same figures as a table: the chart's table view, or the card's content. */
  children: ReactNode;
}

/**
 * One table of the report: its title, a CSV download of the same figures from the server,
 * and a chart with its figures as a table view under it (or the table alone).
 */
export function ReportCard({ title, table, scope, description, chart, children }: Props) {
  const csv = (
    <a
      className="button secondary small"
      href={csvUrl(table, scope)}
      download
      aria-label={`Download ${title.toLowerCase()} as CSV`}
    >
      CSV
    </a>
  );
  return (
    <ChartCard
      title={title}
      description={description}
      chart={chart}
      actions={csv}
      className="report-card"
    >
      {children}
    </ChartCard>
  );
}
