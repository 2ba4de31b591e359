// The Socket.IO protocol (DESIGN.md, "Real time"). Payloads carry ids and small
// facts; message bodies are typed where the pages that use them are written, so
// only their ids are promised here.

import type { Conversation } from "../api/types";

export type LeaderStatus = "online" | "away" | "offline";

export interface AckError {
  error: { code: string; message: string; details?: unknown };
}

export type Ack<T> = (answer: T | AckError) => void;

export interface MessageRef {
  id: number;
}

export interface ServerToClientEvents {
  assign_conversation: (payload: { conversation: Conversation }) => void;
  update_conversation: (payload: { conversation: Conversation }) => void;
  remove_from_basket: (payload: { conversation_id: number }) => void;
  new_message: (payload: { conversation_id: number; message: MessageRef }) => void;
  sync_basket: (payload: { conversations: Conversation[] }) => void;
  ack_status: (payload: { status: LeaderStatus }) => void;
}

export interface ClientToServerEvents {
  set_status: (payload: { status: LeaderStatus }, ack: Ack<{ status: LeaderStatus }>) => void;
  join_conversation: (payload: { conversation_id: number }, ack: Ack<object>) => void;
  leave_conversation: (payload: { conversation_id: number }, ack: Ack<object>) => void;
  send_message: (
    payload: { conversation_id: number; client_id: string; body: string },
    ack: Ack<{ message: MessageRef }>,
  ) => void;
  mark_read: (payload: { conversation_id: number }, ack: Ack<object>) => void;
  typing: (payload: { conversation_id: number }, ack: Ack<object>) => void;
}

/** A client event the server refused, e.g. `too_many_requests`. */
export class AckRefused extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "AckRefused";
    this.code = code;
  }
}

export function isAckError(answer: unknown): answer is AckError {
  return typeof answer === "object" && answer !== null && "error" in answer;
}
