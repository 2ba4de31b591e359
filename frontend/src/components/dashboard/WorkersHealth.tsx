import type { Overview, WorkerHealth } from "../../api/monitoring";
import { formatDuration } from "../reports/format";
import { DashCard } from "./DashCard";

/** A heartbeat older than this says the worker is gone or stuck (it beats every few s). */
const STALE_SECONDS = 30;

/** The routing workers, as their heartbeats tell it. */
interface Props {
  workers: WorkerHealth[];
  realtime: Overview["realtime"];
}

export function WorkersHealth({ workers, realtime }: Props) {
  const title = "Workers";
  return (
    <DashCard title={title}>
      <p className="hint">
        {realtime.servers} web server{realtime.servers === 1 ? "" : "s"},{" "}
        {realtime.socket_connections} live connection
        {realtime.socket_connections === 1 ? "" : "s"}.
      </p>
      {workers.length === 0 ? (
        <p role="status" className="alert compact">
          No routing worker is running: nothing is being assigned.
        </p>
      ) : (
        <div className="table-wrap">
          <table aria-label={title}>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Health</th>
                <th scope="col">Processed</th>
                <th scope="col">Errors</th>
                <th scope="col">Set aside</th>
                <th scope="col">Up</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => {
                const age = w.heartbeat_age_seconds;
                const healthy = age !== null && age < STALE_SECONDS;
                return (
                  <tr key={w.worker_id}>
                    <th scope="row" className="dash-worker-id">
                      {w.worker_id}
                    </th>
                    <td className={healthy ? undefined : "dash-over"}>
                      {healthy ? "Healthy" : "No heartbeat"}
                      <span className="tile-detail"> · beat {formatDuration(age)} ago</span>
                    </td>
                    <td>{w.processed}</td>
                    <td>{w.errors}</td>
                    <td>{w.parked}</td>
                    <td>{formatDuration(w.uptime_seconds)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </DashCard>
  );
}
