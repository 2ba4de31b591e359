import { describe, expect, it } from "vitest";
import type { LeaderOverview } from "../../api/monitoring";
import { assignable, basket, leaderNow, secondsSince } from "./live";

function leader(over: Partial<LeaderOverview>): LeaderOverview {
  return {
    id: 1,
    display_name: "Lena",
    status: "online",
    status_since: null,
    capacity: 4,
    held: 0,
    free: 4,
    last_assigned_at: null,
    disconnected_since: null,
    conversations: [],
    ...over,
  };
}

describe("secondsSince", () => {
  const fetched = { serverAt: "2026-01-01T10:00:30Z", localAt: 1_000_000 };

  it("counts on the server's clock, then on the browser's", () => {
    expect(secondsSince("2026-01-01T10:00:00Z", fetched, 1_000_000)).toBe(30);
    expect(secondsSince("2026-01-01T10:00:00Z", fetched, 1_005_000)).toBe(35);
  });

  it("ignores how far the browser's clock is from the server's", () => {
    const skewed = { ...fetched, localAt: 9_999_000_000 };
    expect(secondsSince("2026-01-01T10:00:00Z", skewed, 9_999_002_000)).toBe(32);
  });

  it("never goes below zero", () => {
    expect(secondsSince("2026-01-01T10:01:00Z", fetched, 1_000_000)).toBe(0);
  });
});

describe("basket", () => {
  it("says n of capacity, and when it is over", () => {
    expect(basket({ held: 3, capacity: 4 })).toEqual({ label: "3 of 4", over: false });
    expect(basket({ held: 5, capacity: 4 })).toEqual({ label: "5 of 4", over: true });
  });
});

describe("assignable", () => {
  it("keeps online leaders with a free slot, most free first, then by name", () => {
    const leaders = [
      leader({ id: 1, display_name: "Lena", free: 1 }),
      leader({ id: 2, display_name: "Max", free: 3 }),
      leader({ id: 3, display_name: "Ada", free: 3 }),
      leader({ id: 4, display_name: "Olga", status: "away", free: 4 }),
      leader({ id: 5, display_name: "Tom", free: 0 }),
      leader({ id: 6, display_name: "Uma", status: "offline", free: 4 }),
    ];
    expect(assignable(leaders).map((l) => l.id)).toEqual([3, 2, 1]);
    expect(assignable(leaders, 3).map((l) => l.id)).toEqual([2, 1]);
  });
});

describe("leaderNow", () => {
  it("reads as status · basket", () => {
    expect(leaderNow(leader({ status: "away", held: 2, capacity: 4 }))).toBe("Away · 2 of 4");
  });
});
