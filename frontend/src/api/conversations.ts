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
  ConversationDetail,
  ConversationPage,
  ConversationStatus,
} from "./types";

// Every copy of a conversation lives in one of these queries. Socket events and
// mutation results patch them through the functions at the end of this module.
export const conversationsKey = ["conversations"] as const;
export const basketKey = [...conversationsKey, "basket"] as const;
const listsKey = [...conversationsKey, "list"] as const;

export function detailKey(id: number) {
  return [...conversationsKey, "detail", id] as const;
}

interface ListFilter {
  statuses: readonly ConversationStatus[];
}

function listKey(filter: ListFilter) {
  return [...listsKey, filter] as const;
}

const PAGE_SIZE = 50;

/** Newest first: an agent's own conversations, a leader's or admin's team's. */
export function useConversationList(statuses: readonly ConversationStatus[]) {
  return useInfiniteQuery({
    queryKey: listKey({ statuses }),
    queryFn: ({ pageParam }) => {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      for (const status of statuses) params.append("status", status);
      if (pageParam !== null) params.set("before", String(pageParam));
      return api.get<ConversationPage>(`/api/conversations?${params.toString()}`);
    },
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before,
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

export interface NewRequest {
  message: string;
  topic_id?: number;
  ticket_link?: string;
}

export function useCreateRequest() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: NewRequest) =>
      api.post<ConversationDetail>("/api/conversations", request),
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
      api.post<{ conversation: Conversation }>(`/api/conversations/${id}/submit`, {
        status,
        topic_id: topicId,
      }),
    onSuccess: ({ conversation }) => {
      onSubmitted?.(conversation);
      applyConversation(queryClient, conversation);
    },
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

/** A conversation's new state, wherever it is cached. */
export function applyConversation(queryClient: QueryClient, conversation: Conversation): void {
  const { id, status } = conversation;

  const detail = queryClient.getQueryData<ConversationDetail>(detailKey(id));
  if (detail !== undefined) {
    queryClient.setQueryData<ConversationDetail>(detailKey(id), {
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

  for (const query of queryClient.getQueryCache().findAll({ queryKey: listsKey })) {
    const data = query.state.data as InfiniteData<ConversationPage> | undefined;
    if (data === undefined) continue;
    const { statuses } = query.queryKey[2] as ListFilter;
    const belongs = statuses.length === 0 || statuses.includes(status);
    const present = data.pages.some((page) => page.conversations.some((c) => c.id === id));
    if (present && belongs) {
      queryClient.setQueryData<InfiniteData<ConversationPage>>(query.queryKey, {
        ...data,
        pages: data.pages.map((page) => ({
          ...page,
          conversations: page.conversations.map((c) => (c.id === id ? conversation : c)),
        })),
      });
      refetchIfFetching(queryClient, query.queryKey);
    } else if (present || belongs) {
      // It joins or leaves this list: let the server say where it goes.
      void queryClient.invalidateQueries({ queryKey: query.queryKey, exact: true });
    }
  }

  const basket = queryClient.getQueryData<Conversation[]>(basketKey);
  const held = basket?.find((c) => c.id === id);
  if (basket !== undefined && held !== undefined) {
    const stillHeld = status === "assigned" && conversation.assignee_id === held.assignee_id;
    queryClient.setQueryData<Conversation[]>(
      basketKey,
      stillHeld
        ? basket.map((c) => (c.id === id ? conversation : c))
        : basket.filter((c) => c.id !== id),
    );
    refetchIfFetching(queryClient, basketKey);
  }
}

/** A conversation assigned to the signed-in leader. */
export function addToBasket(queryClient: QueryClient, conversation: Conversation): void {
  applyConversation(queryClient, conversation);
  const basket = queryClient.getQueryData<Conversation[]>(basketKey);
  if (basket === undefined) {
    void queryClient.invalidateQueries({ queryKey: basketKey, exact: true });
    return;
  }
  const others = basket.filter((c) => c.id !== conversation.id);
  queryClient.setQueryData<Conversation[]>(basketKey, [...others, conversation].sort(byAge));
  refetchIfFetching(queryClient, basketKey);
}

export function removeFromBasket(queryClient: QueryClient, id: number): void {
  const basket = queryClient.getQueryData<Conversation[]>(basketKey);
  if (basket !== undefined) {
    queryClient.setQueryData<Conversation[]>(
      basketKey,
      basket.filter((c) => c.id !== id),
    );
    refetchIfFetching(queryClient, basketKey);
  }
  // Its new state (back in the queue, transferred) did not come with this event.
  void queryClient.invalidateQueries({ queryKey: detailKey(id), exact: true });
}

export function setBasket(queryClient: QueryClient, conversations: Conversation[]): void {
  queryClient.setQueryData<Conversation[]>(basketKey, [...conversations].sort(byAge));
  refetchIfFetching(queryClient, basketKey);
}
