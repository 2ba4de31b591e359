import { useState } from "react";
import { errorMessage } from "../api/client";
import { useHeldCount } from "../api/conversations";
import { useConnectionState } from "../realtime/context";
import type { LeaderStatus } from "../realtime/events";
import { useLeaderStatus, useSetStatus } from "../realtime/status";
import { primeSound } from "./alerts";
import { ConfirmDialog } from "./ConfirmDialog";
import { goesBack } from "./held";
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
  const [asking, setAsking] = useState(false);
  const held = useHeldCount(true);
  const pending = choice !== null || change.isPending;
  const apply = (next: LeaderStatus) => {
    setChoice(next);
    change.mutate(next, { onSettled: () => setChoice(null) });
  };
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
          // Offline hands every held conversation back to the queue: asked first.
          if (next === "offline" && held > 0) setAsking(true);
          else apply(next);
        }}
      />
      <ConfirmDialog
        open={asking}
        title="Go offline?"
        confirm="Go offline"
        onConfirm={() => {
          setAsking(false);
          apply("offline");
        }}
        onCancel={() => setAsking(false)}
      >
        <p>{goesBack(held)} to the queue at once, for other team leaders to take.</p>
      </ConfirmDialog>
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
