import { useState } from "react";
import { useSetLeaderStatus, type LeaderOverview, type LeaderStatus } from "../../api/monitoring";
import { ConfirmDialog } from "../ConfirmDialog";
import { DateTime } from "../DateTime";
import { FormError } from "../FormError";
import { formatDuration } from "../reports/format";
import { HeldList } from "./HeldList";
import { basket, secondsSince, STATUS_LABELS, type Fetched } from "./live";
import { DashCard } from "./DashCard";

const COLUMNS = 5;

interface Props {
  leaders: LeaderOverview[];
  fetched: Fetched;
  now: number;
}

/** Every team leader's status and load, with what a supervisor may do about a stuck one. */
export function LeadersTable({ leaders, fetched, now }: Props) {
  const title = "Team leaders";
  return (
    <DashCard title={title} className="dash-leaders">
      {leaders.length === 0 ? (
        <p className="empty">No team leaders yet.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label={title}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Basket</th>
                <th scope="col">Last assignment</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {leaders.map((leader) => (
                <LeaderRow
                  key={leader.id}
                  leader={leader}
                  leaders={leaders}
                  fetched={fetched}
                  now={now}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </DashCard>
  );
}

interface RowProps {
  leader: LeaderOverview;
  leaders: LeaderOverview[];
  fetched: Fetched;
  now: number;
}

function LeaderRow({ leader, leaders, fetched, now }: RowProps) {
  const setStatus = useSetLeaderStatus();
  const [asking, setAsking] = useState(false);
  const { label, over } = basket(leader);
  const name = leader.display_name;
  const held = leader.conversations ?? [];
  const send = (status: Exclude<LeaderStatus, "online">) =>
    setStatus.mutate({ leaderId: leader.id, status });
  return (
    <>
      <tr data-testid={`leader ${name}`}>
        <th scope="row">{name}</th>
        <td>
          <span className={`presence presence-${leader.status}`}>
            {STATUS_LABELS[leader.status]}
          </span>
          {leader.status_since !== null && (
            <span className="tile-detail">
              {" "}
              for {formatDuration(secondsSince(leader.status_since, fetched, now))}
            </span>
          )}
          {leader.disconnected_since !== null && (
            <span className="tile-detail"> · disconnected</span>
          )}
        </td>
        <td>
          <span className={over ? "dash-over" : undefined}>{label}</span>
          {over && <span className="tile-detail"> over capacity</span>}
          <HeldList leader={leader} held={held} leaders={leaders} />
        </td>
        <td>
          {leader.last_assigned_at === null ? "—" : <DateTime value={leader.last_assigned_at} />}
        </td>
        <td className="actions">
          <button
            type="button"
            className="button secondary small"
            aria-label={`Set ${name} away`}
            disabled={leader.status !== "online" || setStatus.isPending}
            onClick={() => send("away")}
          >
            Set away
          </button>
          <button
            type="button"
            className="button danger small"
            aria-label={`Set ${name} offline`}
            disabled={leader.status === "offline" || setStatus.isPending}
            onClick={() => setAsking(true)}
          >
            Set offline
          </button>
          <ConfirmDialog
            open={asking}
            title={`Set ${name} offline?`}
            confirm="Set offline"
            onConfirm={() => {
              setAsking(false);
              send("offline");
            }}
            onCancel={() => setAsking(false)}
          >
            <p>
              {leader.held > 0
                ? `The ${leader.held} conversation${leader.held === 1 ? "" : "s"} they hold ` +
                  "go back to the head of the queue."
                : "They take no new conversations until they go online again."}
            </p>
          </ConfirmDialog>
        </td>
      </tr>
      {setStatus.error !== null && (
        <tr className="row-error">
          <td colSpan={COLUMNS}>
            <FormError error={setStatus.error} />
          </td>
        </tr>
      )}
    </>
  );
}
