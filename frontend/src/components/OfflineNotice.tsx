import { useQueryClient } from "@tanstack/react-query";
import { errorMessage } from "../api/client";
import { useConnectionState } from "../realtime/context";
import {
  dismissOfflineWhy,
  useOfflineWhy,
  useSetStatus,
  type OfflineReason,
  type OfflineWhy,
} from "../realtime/status";
import { DateTime } from "./DateTime";

function because(why: OfflineWhy): string {
  const grace = why.graceSeconds === null ? "" : ` ${why.graceSeconds} s`;
  const texts: Record<OfflineReason, string> = {
    grace_ended: `because you were disconnected longer than the${grace} grace period`,
    server_lost:
      `because you were disconnected longer than the${grace} grace period ` +
      "(the server restarted)",
    admin: "by a supervisor",
    deactivated: "because your account was deactivated",
    role_changed: "because your role changed",
  };
  return texts[why.reason];
}

/** For a leader the system set offline (not by their own choice): when, why, and a way back. */
export function OfflineNotice() {
  const why = useOfflineWhy();
  const goOnline = useSetStatus();
  const queryClient = useQueryClient();
  const connected = useConnectionState() === "connected";
  if (why === null) return null;
  return (
    <div role="status" className="banner offline-notice">
      <p>
        You were set offline at <DateTime value={why.since} /> {because(why)}. Your
        conversations went back to the queue.
      </p>
      <div className="offline-notice-actions">
        <button
          type="button"
          className="button primary"
          disabled={!connected || goOnline.isPending}
          onClick={() => goOnline.mutate("online")}
        >
          Go online
        </button>
        <button
          type="button"
          className="button secondary"
          onClick={() => dismissOfflineWhy(queryClient)}
        >
          Dismiss
        </button>
      </div>
      {goOnline.isError && (
        <p role="alert" className="alert compact">
          {errorMessage(goOnline.error)}
        </p>
      )}
    </div>
  );
}
