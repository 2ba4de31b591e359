import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
} from "@tanstack/react-query";
import { api } from "./client";
import type {
  Conversation,
  ConversationCreated,
  ConversationDetail,
  ConversationEnvelope,
  ConversationItem,
  ConversationPage,
  ConversationStatus,
  Message,
  NewRequest,
  TransferTargets,
} from "./types";

// Every copy of a conversation lives in one of these queries. Socket events and
// mutation results patch them through the functions at the end of this module.
export const conversationsKey = ["conversations"] as const;
export const basketKey = [...conversationsKey, "basket"] as const;
const listsKey = [...conversationsKey, "list"] as const;

export function detailKey(id: number) {
  return [...conversationsKey, "detail", id] as const;
}

function transferTargetsKey(id: number) {
  return [...conversationsKey, "transfer-targets", id] as const;
}

export type ListSort = "activity" | "newest" | "oldest";

/** The list filters of `GET /api/conversations` (and of search). */
export interface ListFilter {
  statuses: readonly ConversationStatus[];
  topicId?: number | undefined;
  agentId?: number | undefined;
  /** Every leader who ever held it. */
  leaderId?: number | undefined;
  /** ISO 8601 bounds on the creation time. */
  createdFrom?: string | undefined;
  createdTo?: string | undefined;
  sort?: ListSort | undefined;
}

function listKey(filter: ListFilter) {
  return [...listsKey, filter] as const;
}

/** The filter as query parameters, shared by the list and search endpoints. */
export function filterParams(filter: ListFilter, params = new URLSearchParams()): URLSearchParams {
  for (const status of filter.statuses) params.append("status", status);
  if (filter.topicId !== undefined) params.set("topic_id", String(filter.topicId));
  if (filter.agentId !== undefined) params.set("agent_id", String(filter.agentId));
  if (filter.leaderId !== undefined) params.set("leader_id", String(filter.leaderId));
  if (filter.createdFrom) params.set("created_from", filter.createdFrom);
  if (filter.createdTo) params.set("created_to", filter.createdTo);
  return params;
}

const PAGE_SIZE = 50;

/** An agent's own conversations or a leader's or admin's team's, latest activity first by default. */
export function useConversationList(filter: ListFilter, { pageSize = PAGE_SIZE } = {}) {
  return useInfiniteQuery({
    queryKey: listKey(filter),
    queryFn: ({ pageParam }) => {
      const params = filterParams(filter, new URLSearchParams({ limit: String(pageSize) }));
      if (filter.sort) params.set("sort", filter.sort);
      if (pageParam !== null) params.set("cursor", pageParam);
      return api.get<ConversationPage>(`/api/conversations?${params.toString()}`);
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

/** The signed-in leader's basket; `sync_basket` also fills it on every connect. */
export function useBasket() {
  return useQuery({
    queryKey: basketKey,
    queryFn: async () =>
      (await api.get<ConversationPage>("/api/conversations/basket")).conversations,
  });
}

// Nothing tells an agent when a conversation ahead of theirs leaves the queue,
// so a waiting position is re-read now and then while the page is visible.
const QUEUE_POSITION_REFRESH_MS = 15_000;

export function useConversation(id: number, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: detailKey(id),
    queryFn: () => api.get<ConversationDetail>(`/api/conversations/${id}`),
    enabled,
    refetchInterval: (query) =>
      query.state.data?.conversation.status === "queued" ? QUEUE_POSITION_REFRESH_MS : false,
  });
}

export function useCreateRequest() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: NewRequest) =>
      api.post<ConversationCreated>("/api/conversations", request),
    onSuccess: (created) => {
      queryClient.setQueryData(detailKey(created.conversation.id), created);
      applyConversation(queryClient, created.conversation);
    },
  });
}

export type Outcome = "solved" | "pending";

/** `onSubmitted` runs even after the form has gone, as it goes when the basket drops it. */
export function useSubmitAs(onSubmitted?: (conversation: Conversation) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, status, topicId }: { id: number; status: Outcome; topicId: number }) =>
      api.post<ConversationEnvelope>(`/api/conversations/${id}/submit`, {
        status,
        topic_id: topicId,
      }),
    onSuccess: ({ conversation }) => {
      onSubmitted?.(conversation);
      applyConversation(queryClient, conversation);
    },
  });
}

/** Online leaders with a free slot, most free first; asked afresh each time the dialog opens. */
export function useTransferTargets(id: number, { enabled }: { enabled: boolean }) {
  return useQuery({
    queryKey: transferTargetsKey(id),
    queryFn: async () =>
      (await api.get<TransferTargets>(`/api/conversations/${id}/transfer-targets`))
        .leaders,
    enabled,
    staleTime: 0,
    gcTime: 0,
  });
}

export interface Transfer {
  id: number;
  /** Null sends it back to the queue. */
  leaderId: number | null;
  reason?: string;
}

/** `onTransferred` runs even after the dialog has gone, as it goes with the conversation. */
export function useTransfer(onTransferred?: (conversation: Conversation, transfer: Transfer) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, leaderId, reason }: Transfer) =>
      api.post<ConversationEnvelope>(`/api/conversations/${id}/transfer`, {
        leader_id: leaderId,
        ...(reason ? { reason } : {}),
      }),
    onSuccess: ({ conversation }, transfer) => {
      onTransferred?.(conversation, transfer);
      applyConversation(queryClient, conversation);
    },
  });
}

/** The agent's own actions on a request: withdraw it while queued, reopen it after. */
export function useAgentAction(action: "withdraw" | "reopen") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: number) =>
      api.post<ConversationEnvelope>(`/api/conversations/${id}/${action}`),
    onSuccess: ({ conversation }) => applyConversation(queryClient, conversation),
  });
}

// Cache patches. Each is idempotent: the same fact may arrive from a mutation
// result and from one or more socket events, in any order.

function byAge(a: Conversation, b: Conversation): number {
  return a.created_at.localeCompare(b.created_at) || a.id - b.id;
}

/** A refetch already under way could overwrite a patch with older data. */
function refetchIfFetching(queryClient: QueryClient, queryKey: readonly unknown[]): void {
  if (queryClient.isFetching({ queryKey, exact: true }) > 0) {
    void queryClient.invalidateQueries({ queryKey, exact: true });
  }
}

/** Whether a conversation in this state would be listed under `filter`, as far as the client can tell. */
function matches(filter: ListFilter, c: Conversation): boolean {
  if (filter.statuses.length > 0 && !(filter.statuses as readonly string[]).includes(c.status))
    return false;
  if (filter.topicId !== undefined && c.topic_id !== filter.topicId) return false;
  if (filter.agentId !== undefined && c.agent_id !== filter.agentId) return false;
  if (filter.leaderId !== undefined && c.assignee_id !== filter.leaderId) return false;
  if (filter.createdFrom && c.created_at < filter.createdFrom) return false;
  if (filter.createdTo && c.created_at > filter.createdTo) return false;
  return true;
}

type ListData = InfiniteData<ConversationPage>;

function listQueries(queryClient: QueryClient) {
  return queryClient
    .getQueryCache()
    .findAll({ queryKey: listsKey })
    .flatMap((query) => {
      const data = query.state.data as ListData | undefined;
      if (data === undefined) return [];
      return [{ key: query.queryKey, filter: query.queryKey[2] as ListFilter, data }];
    });
}

function patchItems(
  data: ListData,
  patch: (item: ConversationItem) => ConversationItem,
  id: number,
): ListData {
  return {
    ...data,
    pages: data.pages.map((page) => ({
      ...page,
      conversations: page.conversations.map((c) => (c.id === id ? patch(c) : c)),
    })),
  };
}

/** A conversation's new state, wherever it is cached. List-only fields are kept. */
export function applyConversation(queryClient: QueryClient, conversation: Conversation): void {
  const { id, status } = conversation;

  const detail = queryClient.getQueryData<ConversationDetail>(detailKey(id));
  if (detail !== undefined) {
    queryClient.setQueryData<ConversationDetail>(detailKey(id), {
      ...detail,
      conversation,
      queue_position: status === "queued" ? detail.queue_position : null,
    });
    // Back in the queue (or a position never known): ask where it now stands.
    const positionUnknown =
      detail.conversation.status !== "queued" || detail.queue_position === null;
    if (status === "queued" && positionUnknown) {
      void queryClient.invalidateQueries({ queryKey: detailKey(id), exact: true });
    }
    refetchIfFetching(queryClient, detailKey(id));
  }

  for (const { key, filter, data } of listQueries(queryClient)) {
    const belongs = matches(filter, conversation);
    const present = data.pages.some((page) => page.conversations.some((c) => c.id === id));
    if (present && belongs) {
      queryClient.setQueryData<ListData>(
        key,
        patchItems(data, (c) => ({ ...c, ...conversation }), id),
      );
      refetchIfFetching(queryClient, key);
    } else if (present || belongs) {
      // It joins or leaves this list: let the server say where it goes.
      void queryClient.invalidateQueries({ queryKey: key, exact: true });
    }
  }

  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  const held = basket?.find((c) => c.id === id);
  if (basket !== undefined && held !== undefined) {
    const stillHeld = status === "assigned" && conversation.assignee_id === held.assignee_id;
    queryClient.setQueryData<ConversationItem[]>(
      basketKey,
      stillHeld
        ? basket.map((c) => (c.id === id ? { ...c, ...conversation } : c))
        : basket.filter((c) => c.id !== id),
    );
    refetchIfFetching(queryClient, basketKey);
  }
}

/**
 * A new message in the lists that show its conversation: latest message, unread
 * count, and its place under "latest activity first".
 */
export function applyNewMessage(queryClient: QueryClient, message: Message, me: number): void {
  const id = message.conversation_id;
  // As the server counts: every message not sent by the reader, system ones included.
  const fromOther = message.sender_id !== me;
  const patch = (c: ConversationItem): ConversationItem => {
    if (c.last_seq >= message.seq && c.last_message?.seq === message.seq) return c;
    const newer = message.seq > c.last_seq;
    return {
      ...c,
      last_seq: Math.max(c.last_seq, message.seq),
      last_message: newer || !c.last_message ? message : c.last_message,
      unread: fromOther && newer ? (c.unread ?? 0) + 1 : c.unread,
    };
  };

  for (const { key, filter, data } of listQueries(queryClient)) {
    const present = data.pages.some((page) => page.conversations.some((c) => c.id === id));
    if (!present) continue;
    const patched = patchItems(data, patch, id);
    if ((filter.sort ?? "activity") === "activity") {
      // Latest activity first: it moves to the top.
      const item = patched.pages.flatMap((p) => p.conversations).find((c) => c.id === id)!;
      const pages = patched.pages.map((page, i) => {
        const rest = page.conversations.filter((c) => c.id !== id);
        return { ...page, conversations: i === 0 ? [item, ...rest] : rest };
      });
      queryClient.setQueryData<ListData>(key, { ...patched, pages });
    } else {
      queryClient.setQueryData<ListData>(key, patched);
    }
    refetchIfFetching(queryClient, key);
  }

  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket?.some((c) => c.id === id)) {
    queryClient.setQueryData<ConversationItem[]>(
      basketKey,
      basket.map((c) => (c.id === id ? patch(c) : c)),
    );
    refetchIfFetching(queryClient, basketKey);
  }

  const detail = queryClient.getQueryData<ConversationDetail>(detailKey(id));
  if (detail !== undefined && detail.conversation.last_seq < message.seq) {
    queryClient.setQueryData<ConversationDetail>(detailKey(id), {
      ...detail,
      conversation: { ...detail.conversation, last_seq: message.seq },
    });
  }
}

/** The signed-in user read up to `seq` (here or in another tab). */
export function applyRead(queryClient: QueryClient, id: number, seq: number): void {
  const detail = queryClient.getQueryData<ConversationDetail>(detailKey(id));
  if (detail !== undefined && (detail.last_read_seq ?? 0) < seq) {
    queryClient.setQueryData<ConversationDetail>(detailKey(id), { ...detail, last_read_seq: seq });
  }
  const patch = (c: ConversationItem): ConversationItem =>
    seq >= c.last_seq ? { ...c, unread: 0 } : c;
  for (const { key, data } of listQueries(queryClient)) {
    const item = data.pages.flatMap((p) => p.conversations).find((c) => c.id === id);
    if (item === undefined || !item.unread) continue;
    if (seq >= item.last_seq) queryClient.setQueryData<ListData>(key, patchItems(data, patch, id));
    // Read part of the way: only the server can count what is left.
    else void queryClient.invalidateQueries({ queryKey: key, exact: true });
  }
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  const held = basket?.find((c) => c.id === id);
  if (basket !== undefined && held?.unread) {
    if (seq >= held.last_seq) {
      queryClient.setQueryData<ConversationItem[]>(
        basketKey,
        basket.map((c) => (c.id === id ? patch(c) : c)),
      );
    } else {
      void queryClient.invalidateQueries({ queryKey: basketKey, exact: true });
    }
  }
}

/** A conversation assigned to the signed-in leader. */
export function addToBasket(queryClient: QueryClient, conversation: Conversation): void {
  applyConversation(queryClient, conversation);
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket === undefined) {
    void queryClient.invalidateQueries({ queryKey: basketKey, exact: true });
    return;
  }
  const before = basket.find((c) => c.id === conversation.id);
  const others = basket.filter((c) => c.id !== conversation.id);
  const item: ConversationItem = { ...before, ...conversation };
  queryClient.setQueryData<ConversationItem[]>(basketKey, [...others, item].sort(byAge));
  // An assignment does not say what the leader has not read yet.
  if (before === undefined) void queryClient.invalidateQueries({ queryKey: basketKey, exact: true });
  else refetchIfFetching(queryClient, basketKey);
}

export function removeFromBasket(queryClient: QueryClient, id: number): void {
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket !== undefined) {
    queryClient.setQueryData<ConversationItem[]>(
      basketKey,
      basket.filter((c) => c.id !== id),
    );
    refetchIfFetching(queryClient, basketKey);
  }
  // Its new state (back in the queue, transferred) did not come with this event.
  void queryClient.invalidateQueries({ queryKey: detailKey(id), exact: true });
}

export function setBasket(queryClient: QueryClient, conversations: ConversationItem[]): void {
  const known = new Map(
    (queryClient.getQueryData<ConversationItem[]>(basketKey) ?? []).map((c) => [c.id, c]),
  );
  queryClient.setQueryData<ConversationItem[]>(
    basketKey,
    conversations.map((c) => ({ ...known.get(c.id), ...c })).sort(byAge),
  );
  refetchIfFetching(queryClient, basketKey);
}
