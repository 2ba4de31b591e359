// monitor_changed refreshes the overview: once per burst, never later than the debounce.

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
  it("refetches once per burst of changes", () => {
    const { fake, invalidate } = setup();
    fake.receive("monitor_changed", CHANGE);
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS - 1);
    fake.receive("monitor_changed", CHANGE);
    expect(invalidate).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: overviewKey, exact: true });
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS * 4);
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  it("keeps refreshing under a steady stream of changes", () => {
    const { fake, invalidate } = setup();
    for (let i = 0; i < 10; i++) {
      fake.receive("monitor_changed", CHANGE);
      vi.advanceTimersByTime(100);
    }
    // At 250, 550 and 850 ms; the change at 900 is refetched at 1150.
    expect(invalidate).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS);
    expect(invalidate).toHaveBeenCalledTimes(4);
  });

  it("refetches on connect, when changes may have gone unheard", () => {
    const { fake, invalidate } = setup();
    fake.connect();
    expect(invalidate).toHaveBeenCalledTimes(1);
  });

  it("stops listening when unbound", () => {
    const { fake, invalidate, unbind } = setup();
    fake.receive("monitor_changed", CHANGE);
    unbind();
    expect(fake.listenerCount()).toBe(0);
    fake.receive("monitor_changed", CHANGE);
    fake.connect();
    vi.advanceTimersByTime(OVERVIEW_DEBOUNCE_MS * 2);
    expect(invalidate).not.toHaveBeenCalled();
  });
});
