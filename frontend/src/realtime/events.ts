// The Socket.IO protocol (docs/protocol.md, "Socket.IO"). Payloads carry ids and
// small facts; the query cache turns them into state. The server -> client payloads come
// from events.gen.ts, which scripts/contract generates from the server's events.py.

import type {
  Conversation,
  ConversationEnvelope,
  Message,
  MessageEnvelope,
  ReadOut,
} from "../api/types";
import type { ConversationOut, EventPayloads, MessageOut } from "./events.gen";

export type EventName = keyof EventPayloads;
export type Payload<E extends EventName> = EventPayloads[E];

export type ServerToClientEvents = {
  [E in EventName]: (payload: Payload<E>) => void;
};

export type LeaderStatus = Payload<"ack_status">["status"];

// The events carry the HTTP API's objects; tsc stops here if the two documents disagree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type EventObjectsAreTheApis = [
  Holds<Same<ConversationOut, Conversation>>,
  Holds<Same<MessageOut, Message>>,
];

export interface AckError {
  error: { code: string; message: string; details?: unknown };
}

export type Ack<T> = (answer: T | AckError) => void;

// Client -> server events are written by hand: the server checks their payloads with
// models of schemas.py, but no schema names each event with its payload and its ack.

export interface SyncAnswer {
  conversations: Conversation[];
  messages: Message[];
  /** Conversations with more missed messages than the answer holds. */
  truncated: number[];
}

export interface ClientToServerEvents {
  set_status: (payload: { status: LeaderStatus }, ack: Ack<{ status: LeaderStatus }>) => void;
  join_conversation: (payload: { conversation_id: number }, ack: Ack<ConversationEnvelope>) => void;
  leave_conversation: (
    payload: { conversation_id: number },
    ack: Ack<{ conversation_id: number }>,
  ) => void;
  send_message: (
    payload: { conversation_id: number; client_id: string; body: string },
    ack: Ack<MessageEnvelope>,
  ) => void;
  mark_read: (payload: { conversation_id: number; seq: number }, ack: Ack<ReadOut>) => void;
  typing: (payload: { conversation_id: number }, ack: Ack<{ conversation_id: number }>) => void;
  sync: (
    payload: { since: { conversation_id: number; seq: number }[] },
    ack: Ack<SyncAnswer>,
  ) => void;
  basket_ids: (payload: undefined, ack: Ack<{ conversation_ids: number[] }>) => void;
  follow_history: (payload: { on: boolean }, ack: Ack<{ on: boolean }>) => void;
}

/** A client event the server refused, e.g. `too_many_requests`. */
export class AckRefused extends Error {
  readonly code: string;
  readonly details: unknown;

  constructor(code: string, message: string, details: unknown = null) {
    super(message);
    this.name = "AckRefused";
    this.code = code;
    this.details = details;
  }
}

export function isAckError(answer: unknown): answer is AckError {
  return typeof answer === "object" && answer !== null && "error" in answer;
}
