// The Socket.IO protocol (docs/protocol.md, "Socket.IO"). Payloads carry ids and
// small facts; the query cache turns them into state.

import type { Conversation, Message } from "../api/types";

export type LeaderStatus = "online" | "away" | "offline";

export interface AckError {
  error: { code: string; message: string; details?: unknown };
}

export type Ack<T> = (answer: T | AckError) => void;

export interface TypingEvent {
  conversation_id: number;
  user_id: number;
  display_name: string;
}

export interface ReadEvent {
  conversation_id: number;
  user_id: number;
  last_read_seq: number;
}

export interface SyncAnswer {
  conversations: Conversation[];
  messages: Message[];
  /** Conversations with more missed messages than the answer holds. */
  truncated: number[];
}

export interface ServerToClientEvents {
  assign_conversation: (payload: { conversation: Conversation }) => void;
  update_conversation: (payload: { conversation: Conversation }) => void;
  remove_from_basket: (payload: { conversation_id: number }) => void;
  new_message: (payload: { conversation_id: number; message: Message }) => void;
  sync_basket: (payload: { conversations: Conversation[] }) => void;
  ack_status: (payload: { status: LeaderStatus }) => void;
  typing: (payload: TypingEvent) => void;
  read: (payload: ReadEvent) => void;
}

export interface ClientToServerEvents {
  set_status: (payload: { status: LeaderStatus }, ack: Ack<{ status: LeaderStatus }>) => void;
  join_conversation: (
    payload: { conversation_id: number },
    ack: Ack<{ conversation: Conversation }>,
  ) => void;
  leave_conversation: (
    payload: { conversation_id: number },
    ack: Ack<{ conversation_id: number }>,
  ) => void;
  send_message: (
    payload: { conversation_id: number; client_id: string; body: string },
    ack: Ack<{ message: Message }>,
  ) => void;
  mark_read: (
    payload: { conversation_id: number; seq: number },
    ack: Ack<{ last_read_seq: number }>,
  ) => void;
  typing: (payload: { conversation_id: number }, ack: Ack<{ conversation_id: number }>) => void;
  sync: (
    payload: { since: { conversation_id: number; seq: number }[] },
    ack: Ack<SyncAnswer>,
  ) => void;
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
