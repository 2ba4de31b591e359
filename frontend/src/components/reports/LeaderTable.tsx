import type { LeaderRow, ReportScope } from "../../api/reports";
import { DrillRow } from "./DrillRow";
import { formatDuration, formatShare } from "./format";
import { ReportCard } from "./ReportCard";

const COLUMNS = [
  "Team leader",
  "Conversations",
  "Assignments",
  "Share of the load",
  "Solved",
  "Average handle time",
  "Online",
  "Away",
  "Occupancy",
] as const;

/** Each leader's load and time; a row lists that leader's conversations in the History. */
export function LeaderTable({ rows, scope }: { rows: LeaderRow[]; scope: ReportScope }) {
  return (
    <ReportCard
      title="Team leaders"
      table="leaders"
      scope={scope}
      description={
        "Occupancy is the slots held while online over capacity × online time. " +
        "Click a row to list that team leader's conversations."
      }
    >
      <div className="table-wrap">
        <table aria-label="Team leaders" className="drill-table">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <DrillRow key={row.leader_id} name={row.display_name} query={row.history_query}>
                <td>{row.conversations}</td>
                <td>{row.assignments}</td>
                <td>{formatShare(row.load_share)}</td>
                <td>{row.solved}</td>
                <td>{formatDuration(row.handle_avg_seconds)}</td>
                <td>{formatDuration(row.online_seconds)}</td>
                <td>{formatDuration(row.away_seconds)}</td>
                <td>{formatShare(row.occupancy)}</td>
              </DrillRow>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && (
          <p className="empty">No team leader held a conversation in this range.</p>
        )}
      </div>
    </ReportCard>
  );
}
