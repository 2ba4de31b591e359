// The outbox: messages written here that the server has not stored yet. Driven through
// its hooks, a real QueryClient and a stand-in socket (or HTTP when not connected).

import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { basketKey } from "../api/conversations";
import { windowKey, type MessageWindow } from "../api/messages";
import type { ConversationItem, Message, MessageEnvelope } from "../api/types";
import { flush, inAct, renderHook, type Rendered } from "../test/hooks";
import { deferred, fakeFetch, HttpError, item, message, messages } from "../test/server";
import { FakeSocket } from "../test/socket";
import { bindQueryCache } from "./cache";
import { useOutbox, useSend, type Outgoing } from "./outbox";

const ME = 1;
const AGENT = 10;

// The outbox outlives views and tests alike: each test writes in conversations of its own.
let lastId = 0;
function newId(): number {
  lastId += 10;
  return lastId;
}

let cleanups: (() => void)[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  cleanups.forEach((cleanup) => cleanup());
  cleanups = [];
  vi.useRealTimers();
});

interface Chat {
  send(body: string): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  box: readonly Outgoing[];
}

/** A conversation's composer and outbox, with its latest message window cached (seqs 1..2). */
function setup({ connected = true }: { connected?: boolean } = {}) {
  const id = newId();
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: Infinity, gcTime: Infinity } },
  });
  queryClient.setQueryData<MessageWindow>(windowKey(id, null), {
    messages: messages(id, 1, 2),
    hasMoreBefore: false,
    hasMoreAfter: false,
  });
  queryClient.setQueryData<ConversationItem[]>(basketKey, [item({ id, last_seq: 2 })]);
  const fake = new FakeSocket();
  fake.connected = connected;
  const render = (): Rendered<Chat> => {
    const rendered = renderHook(() => ({ ...useSend(id, ME), box: useOutbox(id) }), {
      queryClient,
      socket: fake.socket,
    });
    cleanups.push(() => rendered.unmount());
    // What the user does changes the outbox at once: inside act.
    return {
      get current(): Chat {
        const { send, retry, discard, box } = rendered.current;
        return {
          send: (body) => inAct(() => send(body)),
          retry: (clientId) => inAct(() => retry(clientId)),
          discard: (clientId) => inAct(() => discard(clientId)),
          box,
        };
      },
      unmount: () => rendered.unmount(),
    };
  };
  cleanups.push(() => queryClient.clear());
  return { id, queryClient, fake, chat: render(), render };
}

function seqs(queryClient: QueryClient, id: number): number[] | undefined {
  return queryClient.getQueryData<MessageWindow>(windowKey(id, null))?.messages.map((m) => m.seq);
}

function stored(id: number, seq: number, clientId: string, body: string): Message {
  return message({ conversation_id: id, seq, sender_id: ME, client_id: clientId, body });
}

function only(box: readonly Outgoing[]): Outgoing {
  expect(box).toHaveLength(1);
  return box[0]!;
}

describe("sending over the socket", () => {
  it("holds a message as sending until the server acks it, then the cache has it", async () => {
    const { id, queryClient, fake, chat } = setup();
    const ack = deferred<MessageEnvelope>();
    fake.answer("send_message", () => ack.promise);

    chat.current.send("Can you check order 42?");
    await flush();
    const outgoing = only(chat.current.box);
    expect(outgoing).toMatchObject({
      conversationId: id,
      body: "Can you check order 42?",
      state: "sending",
      error: null,
    });
    expect(fake.sent("send_message")).toEqual([
      { conversation_id: id, client_id: outgoing.clientId, body: "Can you check order 42?" },
    ]);

    ack.resolve({ message: stored(id, 3, outgoing.clientId, "Can you check order 42?") });
    await flush();
    expect(chat.current.box).toEqual([]);
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);
    const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
    expect(basket?.[0]).toMatchObject({ last_seq: 3, unread: 0, last_message: { seq: 3 } });
  });

  it("keeps messages in the order written, each with its own client_id", async () => {
    const { fake, chat } = setup();
    fake.answer("send_message", () => new Promise(() => undefined));
    chat.current.send("one");
    chat.current.send("two");
    await flush();
    expect(chat.current.box.map((o) => o.body)).toEqual(["one", "two"]);
    const [a, b] = chat.current.box;
    expect(a?.clientId).not.toEqual(b?.clientId);
  });

  it("fails with the server's reason when refused", async () => {
    const { fake, chat } = setup();
    fake.answer("send_message", () => ({
      error: { code: "too_many_requests", message: "Slow down.", details: { retry_after: 3 } },
    }));
    chat.current.send("hello");
    await flush();
    expect(only(chat.current.box)).toMatchObject({
      body: "hello",
      state: "failed",
      error: { code: "too_many_requests", message: "Slow down.", details: { retry_after: 3 } },
    });
  });

  it("fails as timed out when the server does not answer in 10 s", async () => {
    const { fake, chat } = setup();
    chat.current.send("hello");
    await flush(9_999);
    expect(only(chat.current.box).state).toBe("sending");
    await flush(1);
    expect(only(chat.current.box)).toMatchObject({ state: "failed", error: { code: "timeout" } });
    expect(fake.sent("send_message")).toHaveLength(1);
  });

  it("retries a failed message with the same client_id, so the server stores it once", async () => {
    const { id, queryClient, fake, chat } = setup();
    fake.answer("send_message", () => ({ error: { code: "unavailable", message: "Try again." } }));
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);

    const ack = deferred<MessageEnvelope>();
    fake.answer("send_message", () => ack.promise);
    chat.current.retry(clientId);
    await flush();
    expect(only(chat.current.box)).toMatchObject({ clientId, state: "sending", error: null });

    ack.resolve({ message: stored(id, 3, clientId, "hello") });
    await flush();
    expect(chat.current.box).toEqual([]);
    expect(fake.sent("send_message").map((p) => p.client_id)).toEqual([clientId, clientId]);
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);
  });

  it("discards a failed message, after which a retry sends nothing", async () => {
    const { fake, chat } = setup();
    fake.answer("send_message", () => ({ error: { code: "forbidden", message: "No." } }));
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);
    chat.current.discard(clientId);
    await flush();
    expect(chat.current.box).toEqual([]);
    chat.current.retry(clientId);
    await flush();
    expect(fake.sent("send_message")).toHaveLength(1);
  });

  it("finishes a send after the view has gone", async () => {
    const { id, queryClient, fake, chat, render } = setup();
    const ack = deferred<MessageEnvelope>();
    fake.answer("send_message", () => ack.promise);
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);
    chat.unmount();

    ack.resolve({ message: stored(id, 3, clientId, "hello") });
    await flush();
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);
    expect(render().current.box).toEqual([]);
  });

  it("keeps each conversation's messages apart", async () => {
    const first = setup();
    const second = setup();
    first.fake.answer("send_message", () => new Promise(() => undefined));
    first.chat.current.send("for the first");
    await flush();
    expect(first.chat.current.box).toHaveLength(1);
    expect(second.chat.current.box).toEqual([]);
  });
});

describe("settling by the echoed client_id", () => {
  it("takes a message out when its stored copy comes as new_message, even if the ack is lost", async () => {
    const { id, queryClient, fake, chat } = setup();
    cleanups.push(bindQueryCache(fake.socket, queryClient, ME));
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);

    const copy = stored(id, 3, clientId, "hello");
    inAct(() => fake.receive("new_message", { conversation_id: id, message: copy }));
    await flush();
    expect(chat.current.box).toEqual([]);
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);

    // The ack never comes; its timeout must not bring the message back as failed.
    await flush(10_000);
    expect(chat.current.box).toEqual([]);
  });

  it("takes a failed message out when its copy comes after all", async () => {
    const { id, queryClient, fake, chat } = setup();
    cleanups.push(bindQueryCache(fake.socket, queryClient, ME));
    chat.current.send("hello");
    await flush(10_000);
    const { clientId, state } = only(chat.current.box);
    expect(state).toBe("failed");

    inAct(() =>
      fake.receive("new_message", {
        conversation_id: id,
        message: stored(id, 3, clientId, "hello"),
      }),
    );
    await flush();
    expect(chat.current.box).toEqual([]);
  });

  it("is not done by someone else's message or another conversation's", async () => {
    const { id, queryClient, fake, chat } = setup();
    cleanups.push(bindQueryCache(fake.socket, queryClient, ME));
    fake.answer("send_message", () => new Promise(() => undefined));
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);

    const theirs = message({ conversation_id: id, seq: 3, sender_id: AGENT, client_id: clientId });
    fake.receive("new_message", { conversation_id: id, message: theirs });
    const elsewhere = message({
      conversation_id: id + 1,
      seq: 3,
      sender_id: ME,
      client_id: clientId,
    });
    fake.receive("new_message", { conversation_id: id + 1, message: elsewhere });
    await flush();
    expect(only(chat.current.box).clientId).toBe(clientId);
  });

  it("shows the message once when both the ack and the echo come", async () => {
    const { id, queryClient, fake, chat } = setup();
    cleanups.push(bindQueryCache(fake.socket, queryClient, ME));
    const ack = deferred<MessageEnvelope>();
    fake.answer("send_message", () => ack.promise);
    chat.current.send("hello");
    await flush();
    const { clientId } = only(chat.current.box);
    const copy = stored(id, 3, clientId, "hello");

    inAct(() => fake.receive("new_message", { conversation_id: id, message: copy }));
    ack.resolve({ message: copy });
    await flush();
    expect(chat.current.box).toEqual([]);
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);
  });
});

describe("sending over HTTP when not connected", () => {
  it("posts the message with its client_id", async () => {
    const { id, queryClient, fake, chat } = setup({ connected: false });
    const requests = fakeFetch(({ body }) => {
      const { client_id } = body as { client_id: string };
      return { message: stored(id, 3, client_id, "hello") } satisfies MessageEnvelope;
    });
    chat.current.send("hello");
    await flush();
    expect(chat.current.box).toEqual([]);
    expect(fake.emitted).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: "POST",
      path: `/api/conversations/${id}/messages`,
      body: { body: "hello", client_id: expect.any(String) as unknown },
    });
    expect(seqs(queryClient, id)).toEqual([1, 2, 3]);
  });

  it("fails with the server's error code", async () => {
    const { chat } = setup({ connected: false });
    fakeFetch(() => new HttpError(409, "conversation_closed", "This conversation is closed."));
    chat.current.send("hello");
    await flush();
    expect(only(chat.current.box)).toMatchObject({
      state: "failed",
      error: { code: "conversation_closed", message: "This conversation is closed." },
    });
  });

  it("fails as a network error when the server cannot be reached", async () => {
    const { chat } = setup({ connected: false });
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    chat.current.send("hello");
    await flush();
    expect(only(chat.current.box)).toMatchObject({
      state: "failed",
      error: { code: "network_error" },
    });
  });
});
