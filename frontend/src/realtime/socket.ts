import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./events";

export type TeamTalkSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A connection to this origin, authenticated by the session cookie. */
export function createSocket(): TeamTalkSocket {
  return io({
    path: "/socket.io",
    withCredentials: true,
    transports: ["websocket", "polling"],
    // Fall back to long-polling where a proxy blocks WebSockets.
    tryAllTransports: true,
    autoConnect: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5_000,
  });
}

export type EventName = keyof ServerToClientEvents;
export type Payload<E extends EventName> = Parameters<ServerToClientEvents[E]>[0];

interface PlainEmitter {
  on(event: string, listener: (payload: never) => void): void;
  off(event: string, listener: (payload: never) => void): void;
}

/** Listens for `event` until the returned function is called. */
export function subscribe<E extends EventName>(
  socket: TeamTalkSocket,
  event: E,
  listener: (payload: Payload<E>) => void,
): () => void {
  // socket.io types listeners with a conditional type that TypeScript cannot
  // resolve for a generic event name; the signature above keeps callers checked.
  const emitter = socket as unknown as PlainEmitter;
  emitter.on(event, listener);
  return () => emitter.off(event, listener);
}
