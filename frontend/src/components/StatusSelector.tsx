import { useState } from "react";
import { errorMessage } from "../api/client";
import { useConnectionState } from "../realtime/context";
import type { LeaderStatus } from "../realtime/events";
import { useLeaderStatus, useSetStatus } from "../realtime/status";
import { primeSound } from "./alerts";
import { Segmented, type Option } from "./Segmented";

const OPTIONS: readonly Option<LeaderStatus>[] = [
  { value: "online", label: "Online" },
  { value: "away", label: "Away" },
  { value: "offline", label: "Offline" },
];

const MEANING: Record<LeaderStatus, string> = {
  online: "New conversations come to you.",
  away: "You keep your conversations but get no new ones.",
  offline: "You get no conversations; going offline returns yours to the queue.",
};

/** The leader's status as the server last confirmed it, in step across all their tabs. */
export function StatusSelector() {
  const status = useLeaderStatus();
  const change = useSetStatus();
  const connected = useConnectionState() === "connected";
  // The choice being made, shown (and the group disabled) until the server answers.
  const [choice, setChoice] = useState<LeaderStatus | null>(null);
  const pending = choice !== null || change.isPending;
  return (
    <div className="status-selector">
      <Segmented
        legend="Status"
        className="status-options"
        options={OPTIONS}
        value={choice ?? status}
        busy={pending}
        disabled={!connected || status === undefined || pending}
        onChange={(next) => {
          primeSound();
          setChoice(next);
          change.mutate(next, { onSettled: () => setChoice(null) });
        }}
      />
      <p className="hint" aria-live="polite">
        {status === undefined ? "Connecting…" : MEANING[status]}
      </p>
      {change.isError && (
        <p role="alert" className="alert compact">
          {errorMessage(change.error)}
        </p>
      )}
    </div>
  );
}
