// Plain factories for the server's objects, and a stand-in for `fetch` that answers the
// HTTP API's paths from a handler. Times are whole seconds after a fixed start.

import { vi } from "vitest";
import type {
  Conversation,
  ConversationDetail,
  ConversationItem,
  Message,
  MessagePage,
} from "../api/types";

const START = Date.parse("2025-01-06T09:00:00Z");

export function at(seconds: number): string {
  return new Date(START + seconds * 1000).toISOString();
}

export function conversation(fields: Partial<Conversation> & { id: number }): Conversation {
  return {
    status: "assigned",
    agent_id: 10,
    agent_name: "Ann Agent",
    assignee_id: 1,
    assignee_name: "Lena Leader",
    topic_id: null,
    topic_name: null,
    ticket_link: null,
    created_at: at(fields.id),
    queued_at: at(fields.id),
    assigned_at: at(fields.id + 1),
    first_response_at: null,
    resolved_at: null,
    closed_at: null,
    updated_at: at(fields.id + 1),
    last_seq: 2,
    ...fields,
  };
}

export function item(fields: Partial<ConversationItem> & { id: number }): ConversationItem {
  return { ...conversation(fields), last_message: null, unread: 0, ...fields };
}

export function detail(
  of: Conversation,
  fields: Partial<Omit<ConversationDetail, "conversation">> = {},
): ConversationDetail {
  return { conversation: of, queue_position: null, last_read_seq: 0, standing: null, ...fields };
}

export function message(
  fields: Partial<Message> & { conversation_id: number; seq: number },
): Message {
  return {
    id: fields.conversation_id * 1000 + fields.seq,
    sender_id: 10,
    sender_name: "Ann Agent",
    kind: "user",
    body: `message ${fields.seq}`,
    client_id: null,
    created_at: at(fields.seq),
    ...fields,
  };
}

/** Messages `from`..`to` of a conversation. */
export function messages(conversationId: number, from: number, to: number): Message[] {
  return Array.from({ length: to - from + 1 }, (_, i) =>
    message({ conversation_id: conversationId, seq: from + i }),
  );
}

export function page(
  of: Message[],
  { before = false, after = false }: { before?: boolean; after?: boolean } = {},
): MessagePage {
  return { messages: of, has_more_before: before, has_more_after: after };
}

export interface Request {
  method: string;
  path: string;
  url: URL;
  body: unknown;
}

export class HttpError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message = code,
  ) {}
}

/**
 * Replaces `fetch`: each request goes to `handle`, whose value is the JSON answer (an
 * HttpError for an error answer). Returns the requests made, in order.
 */
export function fakeFetch(handle: (request: Request) => unknown): Request[] {
  const requests: Request[] = [];
  vi.stubGlobal("fetch", async (path: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(path, "http://teamtalk.test");
    const body = typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    const request = { method: init.method ?? "GET", path: url.pathname, url, body };
    requests.push(request);
    const answer = await handle(request);
    if (answer instanceof HttpError) {
      const error = { error: { code: answer.code, message: answer.message, details: null } };
      return response(answer.status, error);
    }
    return response(200, answer);
  });
  return requests;
}

// Just what api/client.ts reads of an answer; a real Response would read its body
// through streams, which fake timers can hold up.
function response(status: number, body: unknown): Response {
  const text = JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: "",
    text: () => Promise.resolve(text),
  } as Response;
}

/** A promise with its resolve at hand, to hold an answer back. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
