import type { ReportScope, TopicRow } from "../../api/reports";
import { DrillRow } from "./DrillRow";
import { formatDuration } from "./format";
import { ReportCard } from "./ReportCard";

/** Requests per topic; a row lists that topic's conversations in the History. */
export function TopicTable({ rows, scope }: { rows: TopicRow[]; scope: ReportScope }) {
  return (
    <ReportCard
      title="Topics"
      table="topics"
      scope={scope}
      description="Click a row to list that topic's conversations."
    >
      <div className="table-wrap">
        <table aria-label="Topics" className="drill-table">
          <thead>
            <tr>
              <th scope="col">Topic</th>
              <th scope="col">Requests</th>
              <th scope="col">Solved</th>
              <th scope="col">Average handle time</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <DrillRow
                key={row.topic_id ?? "none"}
                name={row.topic_id === null ? "No topic" : (row.name ?? `Topic #${row.topic_id}`)}
                query={row.history_query}
              >
                <td>{row.requests}</td>
                <td>{row.solved}</td>
                <td>{formatDuration(row.handle_avg_seconds)}</td>
              </DrillRow>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <p className="empty">No requests in this range.</p>}
      </div>
    </ReportCard>
  );
}
