import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useSyncExternalStore } from "react";
import { ApiError, api } from "../api/client";
import { applyNewMessage } from "../api/conversations";
import { addMessages } from "../api/messages";
import type { Message, MessageEnvelope } from "../api/types";
import { useRealtime } from "./context";
import { AckRefused } from "./events";
import { call, type TeamTalkSocket } from "./socket";

// Messages written here that the server has not stored yet. This is the
// browser's own draft state, not server data: once the server acks a message,
// its stored copy goes into the query cache and the outbox entry goes away.
// The outbox outlives the chat view, so a send finishes after navigating away.

export interface SendError {
  code: string;
  message: string;
  details: unknown;
}

export interface Outgoing {
  /** Sent with every try, so a retried send is stored once. */
  clientId: string;
  conversationId: number;
  body: string;
  state: "sending" | "failed";
  error: SendError | null;
}

const EMPTY: readonly Outgoing[] = [];
const boxes = new Map<number, readonly Outgoing[]>();
const listeners = new Set<() => void>();

function put(conversationId: number, change: (box: readonly Outgoing[]) => Outgoing[]): void {
  const next = change(boxes.get(conversationId) ?? EMPTY);
  if (next.length === 0) boxes.delete(conversationId);
  else boxes.set(conversationId, next);
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The server has stored this one (its copy arrived another way, e.g. after a timed-out ack). */
export function settle(conversationId: number, clientId: string): void {
  if (boxes.get(conversationId)?.some((o) => o.clientId === clientId)) {
    put(conversationId, (box) => box.filter((o) => o.clientId !== clientId));
  }
}

export function useOutbox(conversationId: number): readonly Outgoing[] {
  return useSyncExternalStore(subscribe, () => boxes.get(conversationId) ?? EMPTY);
}

function asSendError(error: unknown): SendError {
  if (error instanceof ApiError || error instanceof AckRefused) {
    return { code: error.code, message: error.message, details: error.details };
  }
  return { code: "unknown", message: "The message could not be sent.", details: null };
}

async function deliver(socket: TeamTalkSocket | null, item: Outgoing): Promise<Message> {
  const payload = {
    conversation_id: item.conversationId,
    client_id: item.clientId,
    body: item.body,
  };
  // Over the socket when connected; over HTTP otherwise (the same client_id
  // makes either one safe to repeat).
  if (socket?.connected) return (await call(socket, "send_message", payload, 10_000)).message;
  const { message } = await api.post<MessageEnvelope>(
    `/api/conversations/${item.conversationId}/messages`,
    { client_id: item.clientId, body: item.body },
  );
  return message;
}

export function useSend(conversationId: number, me: number) {
  const { socket } = useRealtime();
  const queryClient = useQueryClient();

  const attempt = useCallback(
    async (item: Outgoing) => {
      put(conversationId, (box) =>
        box.map((o) =>
          o.clientId === item.clientId ? { ...o, state: "sending", error: null } : o,
        ),
      );
      try {
        const message = await deliver(socket, item);
        addMessages(queryClient, [message]);
        applyNewMessage(queryClient, message, me);
        put(conversationId, (box) => box.filter((o) => o.clientId !== item.clientId));
      } catch (error) {
        put(conversationId, (box) =>
          box.map((o) =>
            o.clientId === item.clientId ? { ...o, state: "failed", error: asSendError(error) } : o,
          ),
        );
      }
    },
    [conversationId, me, socket, queryClient],
  );

  const send = useCallback(
    (body: string) => {
      const item: Outgoing = {
        clientId: crypto.randomUUID(),
        conversationId,
        body,
        state: "sending",
        error: null,
      };
      put(conversationId, (box) => [...box, item]);
      void attempt(item);
    },
    [conversationId, attempt],
  );

  const retry = useCallback(
    (clientId: string) => {
      const item = boxes.get(conversationId)?.find((o) => o.clientId === clientId);
      if (item !== undefined) void attempt(item);
    },
    [conversationId, attempt],
  );

  const discard = useCallback(
    (clientId: string) => put(conversationId, (box) => box.filter((o) => o.clientId !== clientId)),
    [conversationId],
  );

  return { send, retry, discard };
}
