// Every server event the query cache handles, driven through a real QueryClient and a
// stand-in socket, with the resulting cache contents checked.

import { QueryClient, QueryObserver, type InfiniteData } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { applyConversation, basketKey, conversationsKey, detailKey } from "../api/conversations";
import { windowKey, type MessageWindow } from "../api/messages";
import type { ConversationDetail, ConversationItem, ConversationPage } from "../api/types";
import { FakeSocket } from "../test/socket";
import {
  at,
  conversation,
  deferred,
  detail,
  fakeFetch,
  HttpError,
  item,
  message,
  messages,
  page,
} from "../test/server";
import { bindQueryCache, resync } from "./cache";
import { offlineKey, statusKey } from "./status";

const ME = 1;
const OTHER_LEADER = 2;
const AGENT = 10;

// cache.ts remembers the newest state heard of each conversation for the page's life, so
// every test takes conversations of its own.
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

function setup() {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, staleTime: Infinity, gcTime: Infinity } },
  });
  const fake = new FakeSocket();
  const unbind = bindQueryCache(fake.socket, queryClient, ME);
  cleanups.push(() => {
    unbind();
    queryClient.clear();
  });
  return { queryClient, fake, unbind };
}

/** Lets promises and due timers run. */
async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/**
 * A query as a mounted page holds it, whose fetches `answer` makes; `fetches` counts them.
 * With `data`, it starts filled and fresh, so it fetches only when told to.
 */
function observe<T>(
  queryClient: QueryClient,
  queryKey: readonly unknown[],
  answer: (fetch: number) => Promise<T>,
  data?: T,
) {
  const state = { fetches: 0 };
  if (data !== undefined) queryClient.setQueryData(queryKey, data);
  const observer = new QueryObserver(queryClient, {
    queryKey,
    queryFn: () => {
      state.fetches += 1;
      return answer(state.fetches);
    },
  });
  cleanups.push(observer.subscribe(() => undefined));
  return state;
}

function basketOf(queryClient: QueryClient): ConversationItem[] | undefined {
  return queryClient.getQueryData<ConversationItem[]>(basketKey);
}

function basketIds(queryClient: QueryClient): number[] | undefined {
  return basketOf(queryClient)?.map((c) => c.id);
}

function held(queryClient: QueryClient, id: number): ConversationItem | undefined {
  return basketOf(queryClient)?.find((c) => c.id === id);
}

function detailOf(queryClient: QueryClient, id: number): ConversationDetail | undefined {
  return queryClient.getQueryData<ConversationDetail>(detailKey(id));
}

function invalidated(queryClient: QueryClient, queryKey: readonly unknown[]): boolean {
  return queryClient.getQueryState(queryKey)?.isInvalidated ?? false;
}

function windowOf(queryClient: QueryClient, id: number, around: number | null = null) {
  return queryClient.getQueryData<MessageWindow>(windowKey(id, around));
}

function seqsOf(queryClient: QueryClient, id: number, around: number | null = null) {
  return windowOf(queryClient, id, around)?.messages.map((m) => m.seq);
}

function setWindow(
  queryClient: QueryClient,
  id: number,
  from: number,
  to: number,
  {
    around = null,
    before = false,
    after = false,
  }: {
    around?: number | null;
    before?: boolean;
    after?: boolean;
  } = {},
): void {
  queryClient.setQueryData<MessageWindow>(windowKey(id, around), {
    messages: messages(id, from, to),
    hasMoreBefore: before,
    hasMoreAfter: after,
  });
}

type ListData = InfiniteData<ConversationPage>;
const listKey = [...conversationsKey, "list", { statuses: ["assigned"] }] as const;

function listOf(...items: ConversationItem[]): ListData {
  return { pages: [{ conversations: items, next_cursor: null }], pageParams: [null] };
}

describe("ack_status", () => {
  it("is the leader's status in the cache", () => {
    const { queryClient, fake } = setup();
    fake.receive("ack_status", { status: "away" });
    expect(queryClient.getQueryData(statusKey)).toBe("away");
    fake.receive("ack_status", { status: "online" });
    expect(queryClient.getQueryData(statusKey)).toBe("online");
  });

  it("keeps why the system set the leader offline, until a status without a reason", () => {
    const { queryClient, fake } = setup();
    const since = "2026-12-03T14:02:00Z";
    fake.receive("ack_status", {
      status: "offline",
      offline_reason: "server_lost",
      offline_since: since,
      grace_seconds: 60,
    });
    expect(queryClient.getQueryData(statusKey)).toBe("offline");
    expect(queryClient.getQueryData(offlineKey)).toEqual({
      reason: "server_lost",
      since,
      graceSeconds: 60,
    });
    fake.receive("ack_status", { status: "online" });
    expect(queryClient.getQueryData(offlineKey)).toBeNull();
    fake.receive("ack_status", { status: "offline" }); // chosen: no reason given
    expect(queryClient.getQueryData(offlineKey)).toBeNull();
  });
});

describe("sync_basket", () => {
  it("replaces the basket with the server's, oldest first", () => {
    const { queryClient, fake } = setup();
    const [a, b, c] = [newId(), newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: b })]);
    fake.receive("sync_basket", {
      conversations: [conversation({ id: c }), conversation({ id: a })],
    });
    expect(basketIds(queryClient)).toEqual([a, c]);
  });

  it("orders conversations created at the same time by id", () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    fake.receive("sync_basket", {
      conversations: [
        conversation({ id: b, created_at: at(0) }),
        conversation({ id: a, created_at: at(0) }),
      ],
    });
    expect(basketIds(queryClient)).toEqual([a, b]);
  });

  it("keeps the preview and unread count it knew of a conversation", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const last = message({ conversation_id: id, seq: 2 });
    queryClient.setQueryData(basketKey, [item({ id, unread: 2, last_message: last })]);
    fake.receive("sync_basket", {
      conversations: [conversation({ id, topic_name: "Billing", updated_at: at(id + 5) })],
    });
    expect(held(queryClient, id)).toMatchObject({
      unread: 2,
      last_message: last,
      topic_name: "Billing",
    });
  });

  it("fetches the basket once more when it came during a fetch", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    const answers = [deferred<ConversationItem[]>(), deferred<ConversationItem[]>()];
    const basket = observe(queryClient, basketKey, (n) => answers[n - 1]!.promise, [
      item({ id: a }),
    ]);
    void queryClient.invalidateQueries({ queryKey: basketKey });
    expect(basket.fetches).toBe(1);

    fake.receive("sync_basket", {
      conversations: [conversation({ id: a }), conversation({ id: b })],
    });
    expect(basket.fetches).toBe(2);
    // The first answer was computed before b was assigned; it must not win.
    answers[0]!.resolve([item({ id: a })]);
    answers[1]!.resolve([item({ id: a }), item({ id: b, unread: 1 })]);
    await settle();
    expect(basketIds(queryClient)).toEqual([a, b]);
    expect(held(queryClient, b)?.unread).toBe(1);
    expect(basket.fetches).toBe(2);
  });
});

describe("assign_conversation", () => {
  it("adds a new conversation in age order and asks the server what is unread", () => {
    const { queryClient, fake } = setup();
    const [a, b, c] = [newId(), newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a }), item({ id: c })]);
    fake.receive("assign_conversation", { conversation: conversation({ id: b }) });
    expect(basketIds(queryClient)).toEqual([a, b, c]);
    expect(invalidated(queryClient, basketKey)).toBe(true);
  });

  it("updates a conversation already held, keeping its preview and unread count", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const last = message({ conversation_id: id, seq: 2 });
    queryClient.setQueryData(basketKey, [item({ id, unread: 3, last_message: last })]);
    fake.receive("assign_conversation", {
      conversation: conversation({ id, topic_id: 4, updated_at: at(id + 9) }),
    });
    expect(held(queryClient, id)).toMatchObject({ unread: 3, last_message: last, topic_id: 4 });
    expect(basketIds(queryClient)).toEqual([id]);
    expect(invalidated(queryClient, basketKey)).toBe(false);
  });

  it("makes up no basket when none was loaded", () => {
    const { queryClient, fake } = setup();
    fake.receive("assign_conversation", { conversation: conversation({ id: newId() }) });
    expect(basketOf(queryClient)).toBeUndefined();
  });

  it("fetches the basket once more when it came during the first basket fetch", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    const answers = [deferred<ConversationItem[]>(), deferred<ConversationItem[]>()];
    const basket = observe(queryClient, basketKey, (n) => answers[n - 1]!.promise);
    expect(basket.fetches).toBe(1);

    fake.receive("assign_conversation", { conversation: conversation({ id: b }) });
    await settle();
    expect(basket.fetches).toBe(2);
    answers[0]!.resolve([item({ id: a })]);
    answers[1]!.resolve([item({ id: a }), item({ id: b })]);
    await settle();
    expect(basketIds(queryClient)).toEqual([a, b]);
  });

  it("updates the open conversation, which is out of the queue now", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const queued = conversation({ id, status: "queued", assignee_id: null, updated_at: at(id) });
    queryClient.setQueryData(
      detailKey(id),
      detail(queued, { queue_position: 3, last_read_seq: 1 }),
    );
    const assigned = conversation({ id, updated_at: at(id + 1) });
    fake.receive("assign_conversation", { conversation: assigned });
    expect(detailOf(queryClient, id)).toEqual({
      conversation: assigned,
      queue_position: null,
      last_read_seq: 1,
      standing: null,
    });
  });
});

describe("update_conversation", () => {
  it("patches a conversation still held, keeping its preview and unread count", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const last = message({ conversation_id: id, seq: 2 });
    queryClient.setQueryData(basketKey, [item({ id, unread: 1, last_message: last })]);
    fake.receive("update_conversation", {
      conversation: conversation({ id, ticket_link: "T-1", updated_at: at(id + 5) }),
    });
    expect(held(queryClient, id)).toMatchObject({
      ticket_link: "T-1",
      unread: 1,
      last_message: last,
    });
  });

  it.each([
    ["solved", { status: "solved" as const }],
    ["pending", { status: "pending" as const }],
    ["transferred to another leader", { assignee_id: OTHER_LEADER }],
    ["back in the queue", { status: "queued" as const, assignee_id: null }],
  ])("drops a conversation %s from the basket", (_, change) => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a }), item({ id: b })]);
    fake.receive("update_conversation", {
      conversation: conversation({ id: a, ...change, updated_at: at(a + 5) }),
    });
    expect(basketIds(queryClient)).toEqual([b]);
  });

  it("patches the open conversation, keeping how far it was read", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id }), { last_read_seq: 2 }));
    const solved = conversation({ id, status: "solved", updated_at: at(id + 5) });
    fake.receive("update_conversation", { conversation: solved });
    expect(detailOf(queryClient, id)).toEqual({
      conversation: solved,
      queue_position: null,
      last_read_seq: 2,
      standing: null,
    });
    expect(invalidated(queryClient, detailKey(id))).toBe(false);
  });

  it("asks for the queue position of a conversation back in the queue", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id })));
    fake.receive("update_conversation", {
      conversation: conversation({
        id,
        status: "queued",
        assignee_id: null,
        updated_at: at(id + 5),
      }),
    });
    expect(detailOf(queryClient, id)?.queue_position).toBeNull();
    expect(invalidated(queryClient, detailKey(id))).toBe(true);
  });

  it("keeps a known queue position while the conversation waits", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const queued = { id, status: "queued" as const, assignee_id: null };
    queryClient.setQueryData(
      detailKey(id),
      detail(conversation({ ...queued, updated_at: at(id) }), { queue_position: 2 }),
    );
    fake.receive("update_conversation", {
      conversation: conversation({ ...queued, topic_id: 3, updated_at: at(id + 5) }),
    });
    expect(detailOf(queryClient, id)).toMatchObject({ queue_position: 2 });
    expect(detailOf(queryClient, id)?.conversation.topic_id).toBe(3);
    expect(invalidated(queryClient, detailKey(id))).toBe(false);
  });

  it("makes up no copy of a conversation it did not have", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    fake.receive("update_conversation", { conversation: conversation({ id }) });
    expect(detailOf(queryClient, id)).toBeUndefined();
    expect(basketOf(queryClient)).toBeUndefined();
  });

  it("fetches the open conversation once more when it came during a fetch", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const before = detail(conversation({ id }));
    const after = detail(conversation({ id, status: "solved", updated_at: at(id + 5) }));
    const answers = [deferred<ConversationDetail>(), deferred<ConversationDetail>()];
    const fetched = observe(queryClient, detailKey(id), (n) => answers[n - 1]!.promise, before);
    void queryClient.invalidateQueries({ queryKey: detailKey(id) });

    fake.receive("update_conversation", { conversation: after.conversation });
    expect(fetched.fetches).toBe(2);
    answers[0]!.resolve(before);
    answers[1]!.resolve(after);
    await settle();
    expect(detailOf(queryClient, id)?.conversation.status).toBe("solved");
  });

  it("fetches the open conversation once more when it came during its first fetch", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const after = detail(conversation({ id, status: "solved", updated_at: at(id + 5) }));
    const answers = [deferred<ConversationDetail>(), deferred<ConversationDetail>()];
    const fetched = observe(queryClient, detailKey(id), (n) => answers[n - 1]!.promise);

    fake.receive("update_conversation", { conversation: after.conversation });
    await settle();
    expect(fetched.fetches).toBe(2);
    answers[0]!.resolve(detail(conversation({ id })));
    answers[1]!.resolve(after);
    await settle();
    expect(detailOf(queryClient, id)?.conversation.status).toBe("solved");
  });

  it("refreshes the lists on screen once for a burst, and at most once a second", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const list = observe(queryClient, listKey, () => Promise.resolve(listOf()), listOf());
    for (let i = 1; i <= 3; i += 1) {
      fake.receive("update_conversation", {
        conversation: conversation({ id, updated_at: at(id + i) }),
      });
    }
    await settle(99);
    expect(list.fetches).toBe(0);
    await settle(1);
    expect(list.fetches).toBe(1);

    await settle(200);
    fake.receive("update_conversation", {
      conversation: conversation({ id, updated_at: at(id + 9) }),
    });
    await settle(700);
    expect(list.fetches).toBe(1);
    await settle(100);
    expect(list.fetches).toBe(2);
  });
});

describe("a late older copy of a conversation", () => {
  it("does not undo a newer update", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id, updated_at: at(id) })));
    const solved = conversation({ id, status: "solved", updated_at: at(id + 20) });
    fake.receive("update_conversation", { conversation: solved });
    fake.receive("update_conversation", {
      conversation: conversation({ id, status: "assigned", updated_at: at(id + 10) }),
    });
    expect(detailOf(queryClient, id)?.conversation).toEqual(solved);
  });

  it("does not put back in the basket what left it", () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a }), item({ id: b })]);
    fake.receive("update_conversation", {
      conversation: conversation({ id: a, status: "solved", updated_at: at(a + 20) }),
    });
    fake.receive("assign_conversation", {
      conversation: conversation({ id: a, updated_at: at(a + 10) }),
    });
    expect(basketIds(queryClient)).toEqual([b]);
  });

  it("does not undo a newer state that came with a request's answer", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id, updated_at: at(id) })));
    // As useSubmitAs does with the server's answer.
    const solved = conversation({ id, status: "solved", updated_at: at(id + 20) });
    applyConversation(queryClient, solved);
    fake.receive("update_conversation", {
      conversation: conversation({ id, topic_id: 7, updated_at: at(id + 10) }),
    });
    expect(detailOf(queryClient, id)?.conversation).toEqual(solved);
  });

  it("does not undo a newer state fetched over HTTP", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id, topic_id: 2, updated_at: at(id + 20) })]);
    fake.receive("update_conversation", {
      conversation: conversation({ id, topic_id: 1, updated_at: at(id + 10) }),
    });
    expect(held(queryClient, id)?.topic_id).toBe(2);
  });

  it("in a sync answer, does not undo a newer state heard before it", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 1, 2);
    const solved = conversation({ id, status: "solved", updated_at: at(id + 20) });
    fake.answer("sync", () => {
      // Answered before the change; the change's event overtakes the answer.
      fake.receive("update_conversation", { conversation: solved });
      return {
        conversations: [conversation({ id, updated_at: at(id + 10) })],
        messages: [],
        truncated: [],
      };
    });
    queryClient.setQueryData(detailKey(id), detail(conversation({ id, updated_at: at(id) })));
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(detailOf(queryClient, id)?.conversation).toEqual(solved);
  });

  it("is applied again when it is the same copy (delivery is at least once)", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id })]);
    const same = conversation({ id, topic_id: 5, updated_at: at(id + 5) });
    fake.receive("update_conversation", { conversation: same });
    fake.receive("assign_conversation", { conversation: same });
    expect(basketIds(queryClient)).toEqual([id]);
    expect(held(queryClient, id)?.topic_id).toBe(5);
  });

  it("is judged per conversation", () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(detailKey(b), detail(conversation({ id: b, updated_at: at(1) })));
    fake.receive("update_conversation", {
      conversation: conversation({ id: a, updated_at: at(9_999) }),
    });
    fake.receive("update_conversation", {
      conversation: conversation({ id: b, status: "solved", updated_at: at(2) }),
    });
    expect(detailOf(queryClient, b)?.conversation.status).toBe("solved");
  });
});

describe("remove_from_basket", () => {
  it("takes the conversation out and asks for its new state", () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a }), item({ id: b })]);
    queryClient.setQueryData(detailKey(a), detail(conversation({ id: a })));
    fake.receive("remove_from_basket", { conversation_id: a });
    expect(basketIds(queryClient)).toEqual([b]);
    expect(invalidated(queryClient, detailKey(a))).toBe(true);
    expect(invalidated(queryClient, basketKey)).toBe(false);
  });

  it("makes up no basket when none was loaded", () => {
    const { queryClient, fake } = setup();
    fake.receive("remove_from_basket", { conversation_id: newId() });
    expect(basketOf(queryClient)).toBeUndefined();
  });

  it("fetches the basket once more when it came during a fetch", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    const answers = [deferred<ConversationItem[]>(), deferred<ConversationItem[]>()];
    const basket = observe(queryClient, basketKey, (n) => answers[n - 1]!.promise, [
      item({ id: a }),
      item({ id: b }),
    ]);
    void queryClient.invalidateQueries({ queryKey: basketKey });
    fake.receive("remove_from_basket", { conversation_id: a });
    expect(basket.fetches).toBe(2);
    answers[0]!.resolve([item({ id: a }), item({ id: b })]);
    answers[1]!.resolve([item({ id: b })]);
    await settle();
    expect(basketIds(queryClient)).toEqual([b]);
  });

  it("fetches the basket once more when it came during the first basket fetch", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    const answers = [deferred<ConversationItem[]>(), deferred<ConversationItem[]>()];
    const basket = observe(queryClient, basketKey, (n) => answers[n - 1]!.promise);
    fake.receive("remove_from_basket", { conversation_id: a });
    await settle();
    expect(basket.fetches).toBe(2);
    answers[0]!.resolve([item({ id: a }), item({ id: b })]);
    answers[1]!.resolve([item({ id: b })]);
    await settle();
    expect(basketIds(queryClient)).toEqual([b]);
  });
});

describe("new_message", () => {
  function newMessage(fake: FakeSocket, fields: Parameters<typeof message>[0]): void {
    const m = message(fields);
    fake.receive("new_message", { conversation_id: m.conversation_id, message: m });
  }

  it("extends the latest window of its conversation, and only that conversation's", () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    setWindow(queryClient, a, 1, 3);
    setWindow(queryClient, b, 1, 3);
    newMessage(fake, { conversation_id: a, seq: 4 });
    expect(seqsOf(queryClient, a)).toEqual([1, 2, 3, 4]);
    expect(seqsOf(queryClient, b)).toEqual([1, 2, 3]);
  });

  it("shows a message heard twice once", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 1, 3);
    newMessage(fake, { conversation_id: id, seq: 4 });
    newMessage(fake, { conversation_id: id, seq: 4 });
    newMessage(fake, { conversation_id: id, seq: 2 });
    expect(seqsOf(queryClient, id)).toEqual([1, 2, 3, 4]);
  });

  it("leaves a window that does not reach the end (around a search hit)", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 10, 20, { around: 15, before: true, after: true });
    newMessage(fake, { conversation_id: id, seq: 40 });
    expect(seqsOf(queryClient, id, 15)).toEqual(messages(id, 10, 20).map((m) => m.seq));
  });

  it("fills a gap before it by paging the missed messages", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const requests = fakeFetch(({ url }) =>
      url.searchParams.get("after") === "3" ? page(messages(id, 4, 6)) : page([]),
    );
    setWindow(queryClient, id, 1, 3);
    newMessage(fake, { conversation_id: id, seq: 6 });
    await settle();
    expect(requests.map((r) => r.url.pathname + r.url.search)).toEqual([
      `/api/conversations/${id}/messages?limit=50&after=3`,
    ]);
    expect(seqsOf(queryClient, id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(windowOf(queryClient, id)?.hasMoreAfter).toBe(false);
  });

  it("leaves the window as it was, to load afresh, when the gap cannot be fetched", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    fakeFetch(() => new HttpError(503, "unavailable"));
    setWindow(queryClient, id, 1, 3);
    newMessage(fake, { conversation_id: id, seq: 6 });
    await settle();
    expect(seqsOf(queryClient, id)).toEqual([1, 2, 3]);
    expect(invalidated(queryClient, windowKey(id, null))).toBe(true);
  });

  it("is the basket's preview, and unread when someone else sent it", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id, last_seq: 2, unread: 0 })]);
    newMessage(fake, { conversation_id: id, seq: 3, sender_id: AGENT, body: "Hello?" });
    expect(held(queryClient, id)).toMatchObject({
      last_seq: 3,
      unread: 1,
      last_message: { seq: 3, body: "Hello?" },
    });
    newMessage(fake, { conversation_id: id, seq: 3, sender_id: AGENT, body: "Hello?" });
    expect(held(queryClient, id)?.unread).toBe(1);
  });

  it("is not unread when the leader sent it", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id, last_seq: 2, unread: 0 })]);
    newMessage(fake, { conversation_id: id, seq: 3, sender_id: ME });
    expect(held(queryClient, id)).toMatchObject({ last_seq: 3, unread: 0 });
  });

  it("is neither the preview nor unread when it is a system line", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const asked = message({ conversation_id: id, seq: 1, body: "Need help" });
    queryClient.setQueryData(basketKey, [
      item({ id, last_seq: 1, unread: 1, last_message: asked }),
    ]);
    const line = { conversation_id: id, seq: 2, sender_id: null, kind: "system" } as const;
    newMessage(fake, { ...line, body: "Assigned to Lena Leader." });
    newMessage(fake, { ...line, body: "Assigned to Lena Leader." });
    expect(held(queryClient, id)).toMatchObject({ last_seq: 2, unread: 1, last_message: asked });
    newMessage(fake, { conversation_id: id, seq: 3, sender_id: AGENT, body: "Hello?" });
    expect(held(queryClient, id)).toMatchObject({
      last_seq: 3,
      unread: 2,
      last_message: { seq: 3, body: "Hello?" },
    });
  });

  it("is the preview when it comes after a newer system line", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const asked = message({ conversation_id: id, seq: 1 });
    queryClient.setQueryData(basketKey, [
      item({ id, last_seq: 1, unread: 0, last_message: asked }),
    ]);
    newMessage(fake, { conversation_id: id, seq: 3, sender_id: null, kind: "system" });
    newMessage(fake, { conversation_id: id, seq: 2, sender_id: AGENT, body: "late" });
    expect(held(queryClient, id)).toMatchObject({ last_seq: 3, last_message: { body: "late" } });
  });

  it("does not replace a newer preview when it comes late", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const newer = message({ conversation_id: id, seq: 5 });
    queryClient.setQueryData(basketKey, [
      item({ id, last_seq: 5, unread: 1, last_message: newer }),
    ]);
    newMessage(fake, { conversation_id: id, seq: 4 });
    expect(held(queryClient, id)).toMatchObject({ last_seq: 5, unread: 1, last_message: newer });
  });

  it("moves the open conversation's last seq on", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id, last_seq: 2 })));
    newMessage(fake, { conversation_id: id, seq: 3 });
    expect(detailOf(queryClient, id)?.conversation.last_seq).toBe(3);
    newMessage(fake, { conversation_id: id, seq: 2 });
    expect(detailOf(queryClient, id)?.conversation.last_seq).toBe(3);
  });

  it("refreshes the lists on screen", async () => {
    const { queryClient, fake } = setup();
    const list = observe(queryClient, listKey, () => Promise.resolve(listOf()), listOf());
    newMessage(fake, { conversation_id: newId(), seq: 3 });
    await settle(100);
    expect(list.fetches).toBe(1);
  });

  it("fetches the basket once more when it came during a fetch", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    const answers = [deferred<ConversationItem[]>(), deferred<ConversationItem[]>()];
    const basket = observe(queryClient, basketKey, (n) => answers[n - 1]!.promise, [item({ id })]);
    void queryClient.invalidateQueries({ queryKey: basketKey });
    newMessage(fake, { conversation_id: id, seq: 3 });
    expect(basket.fetches).toBe(2);
    answers[0]!.resolve([item({ id, unread: 0 })]);
    answers[1]!.resolve([item({ id, last_seq: 3, unread: 1 })]);
    await settle();
    expect(held(queryClient, id)?.unread).toBe(1);
  });
});

describe("read", () => {
  it("moves the open conversation's read mark on, never back", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id }), { last_read_seq: 2 }));
    fake.receive("read", { conversation_id: id, user_id: ME, last_read_seq: 4 });
    expect(detailOf(queryClient, id)?.last_read_seq).toBe(4);
    fake.receive("read", { conversation_id: id, user_id: ME, last_read_seq: 3 });
    expect(detailOf(queryClient, id)?.last_read_seq).toBe(4);
  });

  it("clears the basket's unread count when read to the end", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id, last_seq: 5, unread: 2 })]);
    fake.receive("read", { conversation_id: id, user_id: ME, last_read_seq: 5 });
    expect(held(queryClient, id)?.unread).toBe(0);
    expect(invalidated(queryClient, basketKey)).toBe(false);
  });

  it("asks the server what is left when read part of the way", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id, last_seq: 5, unread: 2 })]);
    fake.receive("read", { conversation_id: id, user_id: ME, last_read_seq: 4 });
    expect(held(queryClient, id)?.unread).toBe(2);
    expect(invalidated(queryClient, basketKey)).toBe(true);
  });

  it("is someone else's business when another user read", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id }), { last_read_seq: 1 }));
    queryClient.setQueryData(basketKey, [item({ id, last_seq: 5, unread: 2 })]);
    fake.receive("read", { conversation_id: id, user_id: AGENT, last_read_seq: 5 });
    expect(detailOf(queryClient, id)?.last_read_seq).toBe(1);
    expect(held(queryClient, id)?.unread).toBe(2);
  });

  it("refreshes the lists only where they show the conversation unread", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    const list = observe(
      queryClient,
      listKey,
      () => Promise.resolve(listOf(item({ id: a, unread: 1 }))),
      listOf(item({ id: a, unread: 1 }), item({ id: b, unread: 0 })),
    );
    fake.receive("read", { conversation_id: b, user_id: ME, last_read_seq: 2 });
    await settle(1_000);
    expect(list.fetches).toBe(0);
    fake.receive("read", { conversation_id: a, user_id: ME, last_read_seq: 2 });
    await settle(1_000);
    expect(list.fetches).toBe(1);
  });
});

describe("typing", () => {
  it("is not server state: the cache stays as it was", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id })]);
    queryClient.setQueryData(detailKey(id), detail(conversation({ id })));
    setWindow(queryClient, id, 1, 2);
    const before = queryClient
      .getQueryCache()
      .getAll()
      .map((q) => [q.queryKey, q.state.data]);
    fake.receive("typing", { conversation_id: id, user_id: AGENT, display_name: "Ann Agent" });
    await settle(1_000);
    const after = queryClient
      .getQueryCache()
      .getAll()
      .map((q) => [q.queryKey, q.state.data]);
    expect(after).toEqual(before);
    expect(
      queryClient
        .getQueryCache()
        .getAll()
        .some((q) => q.state.isInvalidated),
    ).toBe(false);
  });
});

describe("resync, connect and reconnect", () => {
  /** A detail, a basket, a list and two message windows: one on screen, one not. */
  function filled(queryClient: QueryClient) {
    const [shown, hidden, other] = [newId(), newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: other })]);
    queryClient.setQueryData(detailKey(other), detail(conversation({ id: other })));
    queryClient.setQueryData(detailKey(shown), detail(conversation({ id: shown })));
    queryClient.setQueryData(listKey, listOf(item({ id: shown })));
    setWindow(queryClient, shown, 1, 3);
    setWindow(queryClient, hidden, 1, 5);
    const window = observe(queryClient, windowKey(shown, null), () => Promise.resolve(page([])));
    return { shown, hidden, other, window };
  }

  it("on a resync event: refetches everything but message windows, and syncs those", async () => {
    const { queryClient, fake } = setup();
    const { shown, hidden, other, window } = filled(queryClient);
    const newer = conversation({ id: shown, topic_id: 8, updated_at: at(shown + 30) });
    fake.answer("sync", () => ({
      conversations: [newer],
      messages: messages(shown, 4, 5),
      truncated: [],
    }));
    fake.receive("resync", { reason: "missed_events" });
    await settle();

    for (const key of [basketKey, detailKey(other), listKey]) {
      expect(invalidated(queryClient, key)).toBe(true);
    }
    expect(invalidated(queryClient, windowKey(shown, null))).toBe(false);
    expect(window.fetches).toBe(0);
    // The window nobody looks at is dropped, to load afresh when opened.
    expect(windowOf(queryClient, hidden)).toBeUndefined();
    expect(fake.sent("sync")).toEqual([{ since: [{ conversation_id: shown, seq: 3 }] }]);
    expect(seqsOf(queryClient, shown)).toEqual([1, 2, 3, 4, 5]);
    expect(detailOf(queryClient, shown)?.conversation.topic_id).toBe(8);
  });

  it("on the first connect: only syncs the message windows", async () => {
    const { queryClient, fake } = setup();
    const { shown, hidden } = filled(queryClient);
    fake.answer("sync", () => ({
      conversations: [],
      messages: messages(hidden, 6, 6),
      truncated: [],
    }));
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(
      queryClient
        .getQueryCache()
        .getAll()
        .some((q) => q.state.isInvalidated),
    ).toBe(false);
    expect(fake.sent("sync")).toEqual([
      {
        since: [
          { conversation_id: shown, seq: 3 },
          { conversation_id: hidden, seq: 5 },
        ],
      },
    ]);
    expect(seqsOf(queryClient, hidden)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("on a reconnect: refetches everything but message windows", async () => {
    const { queryClient, fake } = setup();
    const { shown, hidden } = filled(queryClient);
    fake.answer("sync", () => ({ conversations: [], messages: [], truncated: [] }));
    await resync(fake.socket, queryClient, { reconnected: true });
    expect(invalidated(queryClient, basketKey)).toBe(true);
    expect(invalidated(queryClient, listKey)).toBe(true);
    expect(invalidated(queryClient, windowKey(shown, null))).toBe(false);
    expect(windowOf(queryClient, hidden)).toBeUndefined();
  });

  it("leaves windows that do not reach the end out of the sync", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 10, 20, { around: 15, after: true });
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(fake.sent("sync")).toEqual([]);
  });

  it("pages over HTTP what a cut-short sync answer left out", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 1, 3);
    fake.answer("sync", () => ({
      conversations: [],
      messages: messages(id, 4, 5),
      truncated: [id],
    }));
    const requests = fakeFetch(({ url }) =>
      url.searchParams.get("after") === "5" ? page(messages(id, 6, 7)) : page([]),
    );
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(requests.map((r) => r.url.searchParams.get("after"))).toEqual(["5"]);
    expect(seqsOf(queryClient, id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("pages every window over HTTP when the server refuses the sync", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    setWindow(queryClient, a, 1, 3);
    setWindow(queryClient, b, 1, 1);
    fake.answer("sync", () => ({ error: { code: "unknown_event", message: "No sync here." } }));
    const requests = fakeFetch(({ path, url }) => {
      if (path.endsWith(`/${a}/messages`) && url.searchParams.get("after") === "3") {
        return page(messages(a, 4, 4), { after: true });
      }
      if (path.endsWith(`/${a}/messages`) && url.searchParams.get("after") === "4") {
        return page(messages(a, 5, 5));
      }
      return page([]);
    });
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(requests.map((r) => r.path + "?" + (r.url.searchParams.get("after") ?? ""))).toEqual([
      `/api/conversations/${a}/messages?3`,
      `/api/conversations/${b}/messages?1`,
      `/api/conversations/${a}/messages?4`,
    ]);
    expect(seqsOf(queryClient, a)).toEqual([1, 2, 3, 4, 5]);
    expect(seqsOf(queryClient, b)).toEqual([1]);
  });

  it("pages over HTTP when the sync is not answered in 10 s", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    setWindow(queryClient, id, 1, 3);
    const requests = fakeFetch(() => page(messages(id, 4, 4)));
    const done = resync(fake.socket, queryClient, { reconnected: false });
    await settle(9_999);
    expect(requests).toHaveLength(0);
    await settle(1);
    await done;
    expect(requests.map((r) => r.url.searchParams.get("after"))).toEqual(["3"]);
    expect(seqsOf(queryClient, id)).toEqual([1, 2, 3, 4]);
  });

  it("asks nothing when no messages are cached", async () => {
    const { queryClient, fake } = setup();
    await resync(fake.socket, queryClient, { reconnected: false });
    expect(fake.emitted).toEqual([]);
  });
});

describe("the basket check", () => {
  const MINUTE = 60_000;

  it("each minute compares the basket's ids with the server's, refetching on a difference", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a }), item({ id: b })]);
    let server = [b, a];
    fake.answer("basket_ids", () => ({ conversation_ids: server }));

    await settle(MINUTE - 1);
    expect(fake.sent("basket_ids")).toHaveLength(0);
    await settle(1);
    expect(fake.sent("basket_ids")).toHaveLength(1);
    expect(invalidated(queryClient, basketKey)).toBe(false);

    server = [a];
    await settle(MINUTE);
    expect(fake.sent("basket_ids")).toHaveLength(2);
    expect(invalidated(queryClient, basketKey)).toBe(true);
  });

  it("notices a conversation the server holds that the basket lacks", async () => {
    const { queryClient, fake } = setup();
    const [a, b] = [newId(), newId()];
    queryClient.setQueryData(basketKey, [item({ id: a })]);
    fake.answer("basket_ids", () => ({ conversation_ids: [a, b] }));
    await settle(MINUTE);
    expect(invalidated(queryClient, basketKey)).toBe(true);
  });

  it("asks nothing without a basket (not a leader) or without a connection", async () => {
    const { queryClient, fake } = setup();
    fake.answer("basket_ids", () => ({ conversation_ids: [] }));
    await settle(MINUTE);
    queryClient.setQueryData(basketKey, []);
    fake.connected = false;
    await settle(MINUTE);
    expect(fake.sent("basket_ids")).toHaveLength(0);
  });

  it("lets an unanswered check pass, and checks again the next minute", async () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id })]);
    await settle(MINUTE + 5_000); // asked, never answered: the ack times out
    expect(invalidated(queryClient, basketKey)).toBe(false);
    fake.answer("basket_ids", () => ({ conversation_ids: [] }));
    await settle(MINUTE);
    expect(fake.sent("basket_ids")).toHaveLength(2);
    expect(invalidated(queryClient, basketKey)).toBe(true);
  });
});

describe("unbinding", () => {
  it("stops listening and checking", async () => {
    const { queryClient, fake, unbind } = setup();
    const id = newId();
    queryClient.setQueryData(basketKey, [item({ id })]);
    expect(fake.listenerCount()).toBeGreaterThan(0);
    unbind();
    expect(fake.listenerCount()).toBe(0);
    fake.receive("remove_from_basket", { conversation_id: id });
    await settle(5 * 60_000);
    expect(basketIds(queryClient)).toEqual([id]);
    expect(fake.sent("basket_ids")).toHaveLength(0);
  });
});

describe("queue_moved", () => {
  const standing = (conversation_id: number, position: number) => ({
    conversation_id,
    position,
    expected_wait_seconds: 120,
    leaders_online: 1,
  });
  const queued = (id: number) =>
    conversation({ id, status: "queued", assignee_id: null, updated_at: at(id) });

  it("is where the waiting request now stands, with no refetch", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(
      detailKey(id),
      detail(queued(id), { queue_position: 3, standing: standing(id, 3) }),
    );
    fake.receive("queue_moved", { standing: standing(id, 2) });
    expect(detailOf(queryClient, id)).toMatchObject({
      queue_position: 2,
      standing: standing(id, 2),
    });
    expect(invalidated(queryClient, detailKey(id))).toBe(false);
  });

  it("leaves a request that is no longer waiting as it is", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(detailKey(id), detail(conversation({ id })));
    fake.receive("queue_moved", { standing: standing(id, 1) });
    expect(detailOf(queryClient, id)?.standing).toBeNull();
    expect(detailOf(queryClient, id)?.queue_position).toBeNull();
  });

  it("makes up no copy of a request it did not have", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    fake.receive("queue_moved", { standing: standing(id, 1) });
    expect(detailOf(queryClient, id)).toBeUndefined();
  });

  it("is forgotten once the request leaves the queue", () => {
    const { queryClient, fake } = setup();
    const id = newId();
    queryClient.setQueryData(
      detailKey(id),
      detail(queued(id), { queue_position: 1, standing: standing(id, 1) }),
    );
    fake.receive("update_conversation", {
      conversation: conversation({ id, status: "assigned", updated_at: at(id + 5) }),
    });
    expect(detailOf(queryClient, id)).toMatchObject({ queue_position: null, standing: null });
  });
});
