import { createContext, useContext, useEffect, useRef } from "react";
import type { EventName, Payload } from "./events";
import { subscribe, type TeamTalkSocket } from "./socket";

export type ConnectionState = "connecting" | "connected" | "reconnecting";

export interface Realtime {
  /** The live connection, or null while signed out. */
  socket: TeamTalkSocket | null;
  state: ConnectionState;
}

export const RealtimeContext = createContext<Realtime>({ socket: null, state: "connecting" });

export function useRealtime(): Realtime {
  return useContext(RealtimeContext);
}

export function useConnectionState(): ConnectionState {
  return useRealtime().state;
}

/**
 * Calls `handler` for each `event` from the server. Handlers should refresh
 * queries or patch the query cache, never keep a copy of server data.
 */
export function useSocketEvent<E extends EventName>(
  event: E,
  handler: (payload: Payload<E>) => void,
): void {
  const { socket } = useRealtime();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => {
    if (socket === null) return;
    return subscribe(socket, event, (payload) => latest.current(payload));
  }, [socket, event]);
}
