import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useCallback, useState } from "react";
import { api } from "./client";
import type { Message, MessagePage } from "./types";

// A conversation's messages are cached as one contiguous window of seqs per view:
// the latest page (anchor null) or a page around a search hit. "Load older" and
// "load newer" widen the window; live messages extend it at the end. A window
// never has a hole: a message that would leave one makes the window fetch what
// lies between instead.

export const messagesKey = ["messages"] as const;

export function windowKey(conversationId: number, around: number | null) {
  return [...messagesKey, conversationId, { around }] as const;
}

export interface MessageWindow {
  messages: Message[];
  hasMoreBefore: boolean;
  hasMoreAfter: boolean;
}

const PAGE_SIZE = 50;

type Anchor = { before: number } | { after: number } | { around: number } | null;

function fetchPage(conversationId: number, anchor: Anchor = null): Promise<MessagePage> {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const [name, seq] of Object.entries(anchor ?? {})) params.set(name, String(seq));
  return api.get<MessagePage>(`/api/conversations/${conversationId}/messages?${params.toString()}`);
}

function bySeq(a: Message, b: Message): number {
  return a.seq - b.seq;
}

/** Messages of both, each seq once (the server's copy wins), in seq order. */
function union(a: readonly Message[], b: readonly Message[]): Message[] {
  const bySeqMap = new Map<number, Message>();
  for (const m of a) bySeqMap.set(m.seq, m);
  for (const m of b) bySeqMap.set(m.seq, m);
  return [...bySeqMap.values()].sort(bySeq);
}

function first(w: MessageWindow): number {
  return w.messages[0]?.seq ?? 0;
}

function last(w: MessageWindow): number {
  return w.messages[w.messages.length - 1]?.seq ?? 0;
}

/** Joins a page the server sent to a window, if they touch; otherwise the page alone. */
function joinPage(current: MessageWindow | undefined, page: MessagePage): MessageWindow {
  const fresh: MessageWindow = {
    messages: [...page.messages].sort(bySeq),
    hasMoreBefore: page.has_more_before,
    hasMoreAfter: page.has_more_after,
  };
  if (current === undefined || current.messages.length === 0) return fresh;
  if (fresh.messages.length === 0) return current;
  const touches = first(fresh) <= last(current) + 1 && last(fresh) >= first(current) - 1;
  if (!touches) return fresh;
  return {
    messages: union(current.messages, fresh.messages),
    hasMoreBefore: first(fresh) < first(current) ? fresh.hasMoreBefore : current.hasMoreBefore,
    hasMoreAfter: last(fresh) > last(current) ? fresh.hasMoreAfter : current.hasMoreAfter,
  };
}

/**
 * The messages of a conversation: the latest page, or the page around `around`
 * (a search hit).
 */
export function useMessages(conversationId: number, around: number | null) {
  const queryClient = useQueryClient();
  const key = windowKey(conversationId, around);
  return useQuery({
    queryKey: key,
    queryFn: async () => {
      const page = await fetchPage(conversationId, around === null ? null : { around });
      // A refetch of the latest page keeps the older pages already shown when they join.
      const current = queryClient.getQueryData<MessageWindow>(key);
      return around === null ? joinPage(current, page) : joinPage(undefined, page);
    },
    // Socket events keep a window current; a refetch now and then (on focus, or
    // reopening it) heals anything missed and joins onto what is shown. A
    // window around a search hit stays where it was opened.
    staleTime: around === null ? 30_000 : Infinity,
    refetchOnWindowFocus: around === null,
  });
}

/** Widens a window by one page, older or newer. */
export function useLoadMore(conversationId: number, around: number | null) {
  const queryClient = useQueryClient();
  const [loading, setLoading] = useState<"older" | "newer" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(
    async (direction: "older" | "newer") => {
      const key = windowKey(conversationId, around);
      const current = queryClient.getQueryData<MessageWindow>(key);
      if (current === undefined) return;
      setLoading(direction);
      setError(null);
      try {
        const anchor =
          direction === "older" ? { before: first(current) } : { after: last(current) };
        const page = await fetchPage(conversationId, anchor);
        const now = queryClient.getQueryData<MessageWindow>(key);
        queryClient.setQueryData<MessageWindow>(key, joinPage(now, page));
      } catch (e) {
        setError(e);
      } finally {
        setLoading(null);
      }
    },
    [conversationId, around, queryClient],
  );
  return { load, loading, error };
}

/** The highest seq of each conversation whose messages are cached, for `sync`. */
export function knownSeqs(queryClient: QueryClient): Map<number, number> {
  const seqs = new Map<number, number>();
  for (const query of queryClient.getQueryCache().findAll({ queryKey: messagesKey })) {
    const data = query.state.data as MessageWindow | undefined;
    if (data === undefined || data.hasMoreAfter) continue;
    const id = query.queryKey[1] as number;
    seqs.set(id, Math.max(seqs.get(id) ?? 0, last(data)));
  }
  return seqs;
}

/**
 * Messages the server has confirmed (an ack, a `new_message`, a `sync`), added to
 * every window of their conversation that they extend. A message past the end of
 * a window with nothing after it leaves a hole: the window fetches the gap.
 */
export function addMessages(queryClient: QueryClient, messages: readonly Message[]): void {
  const byConversation = new Map<number, Message[]>();
  for (const m of messages) {
    byConversation.set(m.conversation_id, [...(byConversation.get(m.conversation_id) ?? []), m]);
  }
  for (const [conversationId, incoming] of byConversation) {
    const queries = queryClient
      .getQueryCache()
      .findAll({ queryKey: [...messagesKey, conversationId] });
    for (const query of queries) {
      const current = query.state.data as MessageWindow | undefined;
      if (current === undefined) continue;
      const end = last(current);
      const start = first(current);
      // Inside the window (a copy of one we have) or older than it: the window's
      // own paging brings those. Newer ones join only a window that is at the end.
      const have = new Set(current.messages.map((m) => m.id));
      const inside = incoming.filter((m) => m.seq >= start && m.seq <= end && !have.has(m.id));
      const after = current.hasMoreAfter ? [] : incoming.filter((m) => m.seq > end);
      if (inside.length === 0 && after.length === 0) continue;
      const merged = union(current.messages, [...inside, ...after]);
      const holeAt = merged.findIndex((m, i) => i > 0 && m.seq !== merged[i - 1]!.seq + 1);
      if (holeAt === -1 || current.messages.length === 0) {
        queryClient.setQueryData<MessageWindow>(query.queryKey, { ...current, messages: merged });
      } else {
        void fillGap(queryClient, query.queryKey, conversationId);
      }
    }
  }
}

const filling = new Set<string>();

/** Fetches every page after a window's end until it has caught up. */
async function fillGap(
  queryClient: QueryClient,
  key: readonly unknown[],
  conversationId: number,
): Promise<void> {
  const id = JSON.stringify(key);
  if (filling.has(id)) return;
  filling.add(id);
  try {
    for (let i = 0; i < 20; i += 1) {
      const current = queryClient.getQueryData<MessageWindow>(key);
      if (current === undefined) return;
      const page = await fetchPage(conversationId, { after: last(current) });
      const now = queryClient.getQueryData<MessageWindow>(key);
      queryClient.setQueryData<MessageWindow>(key, {
        ...joinPage(now, page),
        // The live end is where this window stays; newer pages keep coming.
        hasMoreAfter: false,
      });
      if (!page.has_more_after) return;
    }
  } catch {
    // The window stays as it was; a reconnect or reopening refreshes it.
    void queryClient.invalidateQueries({ queryKey: key, exact: true });
  } finally {
    filling.delete(id);
  }
}

/** Pages `after=` a seq until the end: for a `sync` answer that was cut short. */
export async function catchUp(
  queryClient: QueryClient,
  conversationId: number,
  seq: number,
): Promise<void> {
  let after = seq;
  for (let i = 0; i < 20; i += 1) {
    const page = await fetchPage(conversationId, { after });
    addMessages(queryClient, page.messages);
    const end = page.messages[page.messages.length - 1]?.seq;
    if (!page.has_more_after || end === undefined) return;
    after = end;
  }
}
