import type { QueueStanding as Standing } from "../api/types";
import { waitText } from "./queueWait";

/** The agent's own waiting request: its place, and the expected wait or why none. */
export function QueueStanding({ standing }: { standing: Standing }) {
  return (
    <p className="queue-standing" role="status">
      <span className="queue-standing-place">
        You are number {standing.position} in the queue
        {standing.leaders_online > 0 && standing.expected_wait_seconds !== null && (
          <> · expected wait {waitText(standing.expected_wait_seconds)}</>
        )}
      </span>
      {standing.leaders_online === 0 && (
        <span className="queue-standing-note">
          No team leader is online right now — your request stays in the queue.
        </span>
      )}
    </p>
  );
}
