// A stand-in for the Socket.IO client with just the surface the realtime modules use:
// `on`/`off` for server events, `connected`, and `timeout(ms).emitWithAck` for client
// events. The test plays the server: `receive` delivers an event, `answer` says how a
// client event is acked; an unanswered one times out as socket.io's would.

import type { AckError, ClientToServerEvents, EventName, Payload } from "../realtime/events";
import type { TeamTalkSocket } from "../realtime/socket";

type ClientEvent = keyof ClientToServerEvents;
export type ClientPayload<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];
type ClientAnswer<E extends ClientEvent> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
type Answerer<E extends ClientEvent> = (
  payload: ClientPayload<E>,
) => ClientAnswer<E> | AckError | Promise<ClientAnswer<E> | AckError>;
type Listener = (payload: unknown) => void;

export interface Emitted {
  event: ClientEvent;
  payload: unknown;
}

export class FakeSocket {
  connected = true;
  /** Every client event sent, in order. */
  readonly emitted: Emitted[] = [];
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly answerers = new Map<ClientEvent, (payload: unknown) => unknown>();

  on(event: string, listener: Listener): this {
    const set = this.listeners.get(event) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(event, set);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  listenerCount(): number {
    return [...this.listeners.values()].reduce((n, set) => n + set.size, 0);
  }

  /** The server sends `event`. */
  receive<E extends EventName>(event: E, payload: Payload<E>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(payload);
  }

  /** The connection opens: socket.io's own `connect`, which carries nothing. */
  connect(): void {
    for (const listener of [...(this.listeners.get("connect") ?? [])]) listener(undefined);
  }

  /** How the server acks `event` from now on. */
  answer<E extends ClientEvent>(event: E, answerer: Answerer<E>): void {
    this.answerers.set(event, answerer as (payload: unknown) => unknown);
  }

  sent<E extends ClientEvent>(event: E): ClientPayload<E>[] {
    return this.emitted.filter((e) => e.event === event).map((e) => e.payload as ClientPayload<E>);
  }

  timeout(ms: number): { emitWithAck(event: ClientEvent, payload: unknown): Promise<unknown> } {
    return {
      emitWithAck: (event, payload) => {
        this.emitted.push({ event, payload });
        const answerer = this.answerers.get(event);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("operation has timed out")), ms);
          if (answerer === undefined) return;
          Promise.resolve()
            .then(() => answerer(payload))
            .then(
              (answer) => {
                clearTimeout(timer);
                resolve(answer);
              },
              (error: unknown) => {
                clearTimeout(timer);
                reject(error instanceof Error ? error : new Error(String(error)));
              },
            );
        });
      },
    };
  }

  get socket(): TeamTalkSocket {
    return this as unknown as TeamTalkSocket;
  }
}
