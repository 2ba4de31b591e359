import type { QueryClient } from "@tanstack/react-query";
import {
  addToBasket,
  basketKey,
  applyConversation,
  applyNewMessage,
  applyRead,
  applyStanding,
  detailKey,
  removeFromBasket,
  setBasket,
} from "../api/conversations";
import type { Conversation, ConversationDetail, ConversationItem } from "../api/types";
import { addMessages, catchUp, knownSeqs, messagesKey } from "../api/messages";
import { watchOverview } from "../api/monitoring";
import { settle } from "./outbox";
import { call, subscribe, type TeamTalkSocket } from "./socket";
import { applyStatus } from "./status";

/**
 * Keeps the query cache in step with the server's events. Bound before the
 * socket connects, so the basket and status sent on connect are never missed
 * by a page that has not mounted yet. Returns a function that unbinds.
 */
export function bindQueryCache(
  socket: TeamTalkSocket,
  queryClient: QueryClient,
  me: number,
): () => void {
  const unbind = [
    subscribe(socket, "ack_status", (ack) => applyStatus(queryClient, ack)),
    subscribe(socket, "sync_basket", ({ conversations }) => setBasket(queryClient, conversations)),
    subscribe(socket, "assign_conversation", ({ conversation }) => {
      if (!heardBefore(queryClient, conversation)) addToBasket(queryClient, conversation);
    }),
    subscribe(socket, "update_conversation", ({ conversation }) => {
      if (!heardBefore(queryClient, conversation)) applyConversation(queryClient, conversation);
    }),
    subscribe(socket, "remove_from_basket", ({ conversation_id }) =>
      removeFromBasket(queryClient, conversation_id),
    ),
    subscribe(socket, "new_message", ({ message }) => {
      addMessages(queryClient, [message]);
      applyNewMessage(queryClient, message, me);
      if (message.sender_id === me && message.client_id !== null) {
        settle(message.conversation_id, message.client_id);
      }
    }),
    subscribe(socket, "read", ({ conversation_id, user_id, last_read_seq }) => {
      if (user_id === me) applyRead(queryClient, conversation_id, last_read_seq);
    }),
    subscribe(socket, "queue_moved", ({ standing }) => applyStanding(queryClient, standing)),
    // The server may have lost events on their way here: catch up as after a reconnect.
    subscribe(socket, "resync", () => void resync(socket, queryClient, { reconnected: true })),
    watchOverview(socket, queryClient),
  ];
  const checking = setInterval(() => void checkBasket(socket, queryClient), BASKET_CHECK_MS);
  return () => {
    clearInterval(checking);
    unbind.forEach((off) => off());
  };
}

const BASKET_CHECK_MS = 60_000;

/**
 * A leader's basket against the database's, cheaply (ids only): an event lost on its
 * way here shows as a difference, and the basket is fetched again.
 */
async function checkBasket(socket: TeamTalkSocket, queryClient: QueryClient): Promise<void> {
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket === undefined || !socket.connected) return; // not a leader's page
  try {
    const { conversation_ids } = await call(socket, "basket_ids", undefined);
    const held = new Set(basket.map((c) => c.id));
    const same =
      conversation_ids.length === held.size && conversation_ids.every((id) => held.has(id));
    if (!same) void queryClient.invalidateQueries({ queryKey: basketKey, exact: true });
  } catch {
    // Not answered now; the next check, or a reconnect, catches up.
  }
}

/** The newest state heard of each conversation, by its `updated_at`. */
const newest = new Map<number, number>();

/**
 * Whether a newer state of this conversation was heard already, in an event or in what
 * the cache holds (a request's answer, a fetch, a sync). Delivery is at least once, and
 * an event whose first delivery failed comes later (from the server's outbox), possibly
 * after newer ones: it must not take the view back.
 */
function heardBefore(queryClient: QueryClient, { id, updated_at }: Conversation): boolean {
  const at = Date.parse(updated_at);
  const cached = [
    queryClient.getQueryData<ConversationDetail>(detailKey(id))?.conversation,
    queryClient.getQueryData<ConversationItem[]>(basketKey)?.find((c) => c.id === id),
  ].flatMap((copy) => (copy === undefined ? [] : [Date.parse(copy.updated_at)]));
  const known = Math.max(newest.get(id) ?? -Infinity, ...cached);
  if (at < known) return true;
  newest.set(id, at);
  return false;
}

const SYNC_LIMIT = 100;

/**
 * On connect: the messages missed in every conversation whose messages are
 * cached (`sync`, or HTTP pages if the server refuses it); after a reconnect,
 * also a refetch of everything else. Message windows are merged, never refetched whole, so what
 * is on screen stays and nothing is shown twice.
 */
export async function resync(
  socket: TeamTalkSocket,
  queryClient: QueryClient,
  { reconnected }: { reconnected: boolean },
): Promise<void> {
  if (reconnected) {
    // Windows nobody looks at are dropped; they load afresh when opened again.
    queryClient.removeQueries({ queryKey: messagesKey, type: "inactive" });
    void queryClient.invalidateQueries({
      predicate: (query) => query.queryKey[0] !== messagesKey[0],
    });
  }
  const since = [...knownSeqs(queryClient)]
    .slice(0, SYNC_LIMIT)
    .map(([conversation_id, seq]) => ({ conversation_id, seq }));
  if (since.length === 0) return;
  try {
    const answer = await call(socket, "sync", { since }, 10_000);
    addMessages(queryClient, answer.messages);
    for (const conversation of answer.conversations) {
      if (!heardBefore(queryClient, conversation)) applyConversation(queryClient, conversation);
    }
    await Promise.all(
      answer.truncated.map((id) => {
        const seq = knownSeqs(queryClient).get(id);
        return seq === undefined ? undefined : catchUp(queryClient, id, seq);
      }),
    );
  } catch {
    // No sync from this server: page through what was missed over HTTP.
    await Promise.allSettled(
      since.map(({ conversation_id, seq }) => catchUp(queryClient, conversation_id, seq)),
    );
  }
}
