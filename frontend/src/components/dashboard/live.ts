// The dashboard's arithmetic on the overview, kept apart from the components to be tested.

import type { LeaderOverview, LeaderStatus } from "../../api/monitoring";

export const STATUS_LABELS: Record<LeaderStatus, string> = {
  online: "Online",
  away: "Away",
  offline: "Offline",
};

/** When the page learnt the overview: the server's clock then, and the browser's. */
export interface Fetched {
  serverAt: string;
  localAt: number;
}

/**
 * Seconds since `since` (a server time), now: what had passed on the server's clock when
 * the overview was made, plus what has passed on this browser's clock since it came. The
 * two clocks are never compared, so a browser set wrong still counts right.
 */
export function secondsSince(since: string, fetched: Fetched, now: number): number {
  const onServer = Date.parse(fetched.serverAt) - Date.parse(since);
  return Math.max(onServer + (now - fetched.localAt), 0) / 1000;
}

/** A leader's basket: "3 of 4", and whether it holds more than their capacity. */
export function basket({ held, capacity }: Pick<LeaderOverview, "held" | "capacity">) {
  return { label: `${held} of ${capacity}`, over: held > capacity };
}

/** Who can take a conversation now: online (not away) with a free slot, most free first. */
export function assignable(leaders: LeaderOverview[], except?: number): LeaderOverview[] {
  return leaders
    .filter((l) => l.status === "online" && l.free > 0 && l.id !== except)
    .sort((a, b) => b.free - a.free || a.display_name.localeCompare(b.display_name));
}

/** The Users page's "Now": "Online · 2 of 4". */
export function leaderNow(leader: LeaderOverview): string {
  return `${STATUS_LABELS[leader.status]} · ${basket(leader).label}`;
}
