// Runs a hook inside the providers the app gives it (the query client and the realtime
// connection), in jsdom, without a testing library: React's own act and a detached root.

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { act, createElement } from "react";
import { createRoot } from "react-dom/client";
import { vi } from "vitest";
import { RealtimeContext } from "../realtime/context";
import type { TeamTalkSocket } from "../realtime/socket";

// Tells React that updates are wrapped in act, as in a test they are.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered<T> {
  /** What the hook returned on its latest render. */
  readonly current: T;
  unmount(): void;
}

export function renderHook<T>(
  hook: () => T,
  { queryClient, socket }: { queryClient: QueryClient; socket: TeamTalkSocket | null },
): Rendered<T> {
  let latest: { value: T } | null = null;
  function Probe() {
    latest = { value: hook() };
    return null;
  }
  const root = createRoot(document.createElement("div"));
  act(() => {
    root.render(
      createElement(
        QueryClientProvider,
        { client: queryClient },
        createElement(
          RealtimeContext.Provider,
          { value: { socket, state: socket === null ? "connecting" : "connected" } },
          createElement(Probe),
        ),
      ),
    );
  });
  return {
    get current(): T {
      if (latest === null) throw new Error("The hook has not rendered.");
      return latest.value;
    },
    unmount: () => act(() => root.unmount()),
  };
}

/** Runs `change` as React expects of a test: its state updates applied before act returns. */
export function inAct(change: () => void): void {
  act(change);
}

/** Lets pending promises, the timers due within `ms` (fake ones) and React's updates run. */
export async function flush(ms = 0): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 20; i += 1) await Promise.resolve();
  });
}
