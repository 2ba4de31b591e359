import { useState } from "react";
import { Link } from "react-router";
import {
  useAssignTo,
  useMoveToFront,
  type LeaderOverview,
  type Overview,
  type QueuedRequest,
} from "../../api/monitoring";
import { FormError } from "../FormError";
import { formatDuration } from "../reports/format";
import { assignable, secondsSince, type Fetched } from "./live";
import { DashCard } from "./DashCard";

const ROUTING_LABELS: Record<QueuedRequest["routing"], string> = {
  waiting: "Waiting",
  in_flight: "Being assigned",
  parked: "Set aside",
  missing: "Not in routing yet",
};
const COLUMNS = 6;

interface Props {
  queue: Overview["queue"];
  leaders: LeaderOverview[];
  fetched: Fetched;
  now: number;
}

/** The requests waiting, in serving order, with the supervisor's overrides. */
export function QueueTable({ queue, leaders, fetched, now }: Props) {
  const free = assignable(leaders);
  const title = "Queue";
  return (
    <DashCard title={title} className="dash-queue">
      {queue.requests.length === 0 ? (
        <p className="empty">Nobody is waiting.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label={title}>
            <thead>
              <tr>
                <th scope="col">Position</th>
                <th scope="col">Agent</th>
                <th scope="col">Topic</th>
                <th scope="col">Waited</th>
                <th scope="col">Routing</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {queue.requests.map((r) => (
                <QueueRow
                  key={r.conversation_id}
                  request={r}
                  free={free}
                  waited={secondsSince(r.queued_at, fetched, now)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {queue.truncated && (
        <p className="hint">
          The first {queue.requests.length} of {queue.length} are shown.
        </p>
      )}
    </DashCard>
  );
}

interface RowProps {
  request: QueuedRequest;
  free: LeaderOverview[];
  waited: number;
}

function QueueRow({ request, free, waited }: RowProps) {
  const front = useMoveToFront();
  const assign = useAssignTo();
  const [leader, setLeader] = useState("");
  const id = request.conversation_id;
  const name = `#${id} of ${request.agent_name}`;
  const error = front.error ?? assign.error;
  const chosen = free.some((l) => String(l.id) === leader) ? leader : "";
  return (
    <>
      <tr data-testid={`queued ${id}`}>
        <td>{request.position ?? "—"}</td>
        <th scope="row">
          <Link to={`/conversations/${id}`}>{request.agent_name || `#${id}`}</Link>
        </th>
        <td>{request.topic_name ?? "—"}</td>
        <td className="dash-wait">{formatDuration(waited)}</td>
        <td>{ROUTING_LABELS[request.routing]}</td>
        <td className="actions">
          <button
            type="button"
            className="button secondary small"
            aria-label={`Move ${name} to the front`}
            disabled={front.isPending || request.position === 1}
            onClick={() => {
              assign.reset();
              front.mutate(id);
            }}
          >
            Move to front
          </button>
          <form
            className="dash-assign"
            aria-label={`Assign ${name}`}
            onSubmit={(event) => {
              event.preventDefault();
              front.reset();
              assign.mutate({ conversationId: id, leaderId: Number(chosen) });
            }}
          >
            <label className="visually-hidden" htmlFor={`assign-${id}`}>
              Assign {name} to
            </label>
            <select id={`assign-${id}`} value={chosen} onChange={(e) => setLeader(e.target.value)}>
              <option value="">{free.length > 0 ? "Assign to…" : "No free leader"}</option>
              {free.map((l) => (
                <option key={l.id} value={l.id}>
                  {l.display_name} ({l.free} free)
                </option>
              ))}
            </select>
            <button
              type="submit"
              className="button secondary small"
              disabled={chosen === "" || assign.isPending}
            >
              Assign
            </button>
          </form>
        </td>
      </tr>
      {error && (
        <tr className="row-error">
          <td colSpan={COLUMNS}>
            <FormError error={error} />
          </td>
        </tr>
      )}
    </>
  );
}
