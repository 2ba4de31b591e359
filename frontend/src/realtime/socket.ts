import { io, type Socket } from "socket.io-client";
import {
  AckRefused,
  isAckError,
  type AckError,
  type ClientToServerEvents,
  type EventName,
  type Payload,
  type ServerToClientEvents,
} from "./events";

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

type ClientEvent = keyof ClientToServerEvents;
type ClientPayload<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];
type ClientAnswer<E extends ClientEvent> = Exclude<
  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0],
  AckError
>;

interface PlainAcker {
  timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> };
}

const ACK_TIMEOUT_MS = 5_000;

/**
 * Sends a client event and waits for its ack. A refusal, a timeout or a missing
 * connection becomes an AckRefused with the server's code and message.
 */
export async function call<E extends ClientEvent>(
  socket: TeamTalkSocket | null,
  event: E,
  payload: ClientPayload<E>,
  timeoutMs: number = ACK_TIMEOUT_MS,
): Promise<ClientAnswer<E>> {
  if (socket === null || !socket.connected) {
    throw new AckRefused("not_connected", "Not connected to the server. Try again shortly.");
  }
  let answer: unknown;
  try {
    // Same reason as in `subscribe`: the generic event name defeats socket.io's types.
    answer = await (socket as unknown as PlainAcker)
      .timeout(timeoutMs)
      .emitWithAck(event, payload);
  } catch {
    throw new AckRefused("timeout", "The server did not answer. Try again.");
  }
  if (isAckError(answer)) {
    throw new AckRefused(answer.error.code, answer.error.message, answer.error.details ?? null);
  }
  return answer as ClientAnswer<E>;
}
