// monitor_changed refreshes the overview: a lone change at once, a burst once per interval.

import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "../test/socket";
import { OVERVIEW_DEBOUNCE_MS, overviewKey, watchOverview } from "./monitoring";

const CHANGE = { changes: [{ what: "queued" as const, conversation_id: 1, leader_id: null }] };

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  const queryClient = new QueryClient();
  const invalidate = vi.spyOn(queryClient, "invalidateQueries").mockResolvedValue();
  const fake = new FakeSocket();
  const unbind = watchOverview(fake.socket, queryClient);
  return { fake, invalidate, unbind };
}

describe("watchOverview", () => {
  it("refetches at once, then once more for the changes that follow", () => {
    const { fake, invalidate } = setup();
    fake.receive("monitor_changed", CHANGE);
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: overviewKey, exact: true });
    fake.receive("monitor_changed", CHANGE);
    fake.receive("monitor_changed", CHANGE);
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS - 1);
    expect(invalidate).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(invalidate).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS * 4);
    expect(invalidate).toHaveBeenCalledTimes(2);
    fake.receive("monitor_changed", CHANGE); // quiet for a while: at once again
    expect(invalidate).toHaveBeenCalledTimes(3);
  });

  it("keeps refreshing under a steady stream of changes", () => {
    const { fake, invalidate } = setup();
    for (let i = 0; i < 10; i++) {
      fake.receive("monitor_changed", CHANGE);
      vi.advanceTimersByTime(100);
    }
    // At 0, 250, 500, 750 and 1000 ms (for the changes at 800 and 900), then no more.
    expect(invalidate).toHaveBeenCalledTimes(5);
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS * 4);
    expect(invalidate).toHaveBeenCalledTimes(5);
  });

  it("refetches on connect, when changes may have gone unheard", () => {
    const { fake, invalidate } = setup();
    fake.connect();
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  it("stops listening when unbound", () => {
    const { fake, invalidate, unbind } = setup();
    unbind();
    expect(fake.listenerCount()).toBe(0);
    fake.receive("monitor_changed", CHANGE);
    fake.connect();
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS * 2);
    expect(invalidate).not.toHaveBeenCalled();
  });
});
