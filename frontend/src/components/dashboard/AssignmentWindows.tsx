import type { AssignmentWindow } from "../../api/monitoring";
import { formatDuration, formatShare } from "../reports/format";
import { DashCard } from "./DashCard";

const WINDOW_LABELS: Record<AssignmentWindow["window"], string> = {
  "15m": "Last 15 min",
  "4h": "Last 4 h",
  "8h": "Last 8 h",
};

/** How routing did: assignments, failures, and the wait until a first assignment. */
export function AssignmentWindows({ windows }: { windows: AssignmentWindow[] }) {
  const title = "Assignments";
  return (
    <DashCard
      title={title}
      description="Latency is from a request's creation to its first assignment."
    >
      <div className="table-wrap">
        <table aria-label={title}>
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col">Assigned</th>
              <th scope="col">Failed</th>
              <th scope="col">Success rate</th>
              <th scope="col">Latency p50</th>
              <th scope="col">Latency p90</th>
            </tr>
          </thead>
          <tbody>
            {windows.map((w) => (
              <tr key={w.window}>
                <th scope="row">{WINDOW_LABELS[w.window]}</th>
                <td>{w.assigned}</td>
                <td>{w.failed}</td>
                <td>{formatShare(w.success_rate)}</td>
                <td>{formatDuration(w.latency_p50_seconds)}</td>
                <td>{formatDuration(w.latency_p90_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </DashCard>
  );
}
