import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
} from "@tanstack/react-query";
import { ApiError, NETWORK_ERROR, api } from "./client";
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
  QueueStanding,
  TransferTargets,
} from "./types";

// Every copy of a conversation lives in one of these queries. Socket events and
// mutation results reach them through the functions at the end of this module.
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
  /** Only those with no topic. */
  noTopic?: boolean | undefined;
  /** Created on this ISO weekday (1 = Monday) and/or in this hour, local time in `tz`: a
   * cell of the reports' heat map. The server needs both creation bounds with them. */
  tz?: string | undefined;
  weekday?: number | undefined;
  hour?: number | undefined;
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
  if (filter.noTopic) params.set("no_topic", "true");
  if (filter.tz) params.set("tz", filter.tz);
  if (filter.weekday !== undefined) params.set("weekday", String(filter.weekday));
  if (filter.hour !== undefined) params.set("hour", String(filter.hour));
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
export function useBasket({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: basketKey,
    queryFn: async () =>
      (await api.get<ConversationPage>("/api/conversations/basket")).conversations,
    enabled,
  });
}

/** How many conversations the signed-in leader holds (0 for everyone else). */
export function useHeldCount(isLeader: boolean): number {
  return useBasket({ enabled: isLeader }).data?.length ?? 0;
}

// A waiting request's place is kept current by `queue_moved` (applyStanding), not polled.
export function useConversation(id: number, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: detailKey(id),
    queryFn: () => api.get<ConversationDetail>(`/api/conversations/${id}`),
    enabled,
  });
}

/** A failure that may pass: no answer at all, or the server's own trouble. */
function mayPass(error: unknown): boolean {
  return error instanceof ApiError && (error.code === NETWORK_ERROR || error.status >= 500);
}

/** Send `client_id` with the request: then a retry opens nothing new, so a lost answer is
 * retried here at once, and the user may send it again as often as they like. */
export function useCreateRequest() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (request: NewRequest) =>
      api.post<ConversationCreated>("/api/conversations", request),
    retry: (failures, error) => failures < 2 && mayPass(error),
    onSuccess: (created) => {
      queryClient.setQueryData(detailKey(created.conversation.id), created);
      applyConversation(queryClient, created.conversation);
    },
  });
}

export type Outcome = "solved" | "pending";

interface SubmitAsInput {
  id: number;
  status: Outcome;
  topicId: number;
  /** The wrap-up note; blank is none. */
  note?: string;
}

/** `onSubmitted` runs even after the form has gone, as it goes when the basket drops it. */
export function useSubmitAs(onSubmitted?: (conversation: Conversation) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, status, topicId, note }: SubmitAsInput) =>
      api.post<ConversationEnvelope>(`/api/conversations/${id}/submit`, {
        status,
        topic_id: topicId,
        note: note?.trim() || undefined,
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
      (await api.get<TransferTargets>(`/api/conversations/${id}/transfer-targets`)).leaders,
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

// Cache updates. Lists are the server's to compute: which conversations a filter holds,
// in what order, with what unread counts. A change refreshes them instead of patching.
// The basket, the open conversation (its detail) and message windows are patched
// exactly, for speed. Each update is idempotent: the same fact may arrive from a
// mutation result and from one or more socket events, in any order.

function byAge(a: Conversation, b: Conversation): number {
  return a.created_at.localeCompare(b.created_at) || a.id - b.id;
}

/**
 * Marks a query stale and fetches it again if it is shown. A fetch already under way may
 * answer with what was true before the change, so it is replaced, never joined.
 */
function refresh(queryClient: QueryClient, queryKey: readonly unknown[]): void {
  const exact = { queryKey, exact: true };
  if (queryClient.isFetching(exact) > 0 && queryClient.getQueryData(queryKey) === undefined) {
    // An invalidation cancels a refetch and starts another, but it joins a first fetch
    // (nothing cached yet): cancel that one, then fetch anew.
    void queryClient.cancelQueries(exact).then(() => queryClient.invalidateQueries(exact));
  } else {
    void queryClient.invalidateQueries(exact);
  }
}

/** A fetch already under way could overwrite a patch, or miss a change, with older data. */
function refetchIfFetching(queryClient: QueryClient, queryKey: readonly unknown[]): void {
  if (queryClient.isFetching({ queryKey, exact: true }) > 0) refresh(queryClient, queryKey);
}

// A burst of changes (a mutation's answer and its own events, a busy conversation) costs
// one refetch of the lists on screen, and at most one a second: each page refetched
// spends from the user's budget of history reads.
const LIST_REFRESH_WAIT_MS = 100;
const LIST_REFRESH_GAP_MS = 1_000;
const listRefreshes = new WeakMap<QueryClient, { timer: number | null; last: number }>();

export function refreshLists(queryClient: QueryClient): void {
  const state = listRefreshes.get(queryClient) ?? { timer: null, last: -Infinity };
  listRefreshes.set(queryClient, state);
  if (state.timer !== null) return;
  const wait = Math.max(LIST_REFRESH_WAIT_MS, state.last + LIST_REFRESH_GAP_MS - Date.now());
  state.timer = window.setTimeout(() => {
    state.timer = null;
    state.last = Date.now();
    void queryClient.invalidateQueries({ queryKey: listsKey });
  }, wait);
}

type ListData = InfiniteData<ConversationPage>;

/** Whether a list in the cache shows this conversation with messages unread. */
function listedUnread(queryClient: QueryClient, id: number): boolean {
  return queryClient
    .getQueriesData<ListData>({ queryKey: listsKey })
    .some(([, data]) =>
      data?.pages.some((page) => page.conversations.some((c) => c.id === id && c.unread)),
    );
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
      standing: status === "queued" ? detail.standing : null,
    });
    // Back in the queue (or a position never known): ask where it now stands.
    const positionUnknown =
      detail.conversation.status !== "queued" || detail.queue_position === null;
    if (status === "queued" && positionUnknown) refresh(queryClient, detailKey(id));
    else refetchIfFetching(queryClient, detailKey(id));
  } else {
    refetchIfFetching(queryClient, detailKey(id));
  }

  refreshLists(queryClient);

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
  }
  refetchIfFetching(queryClient, basketKey);
}

/** A new message: the basket's latest message and unread count, the detail's last seq. */
export function applyNewMessage(queryClient: QueryClient, message: Message, me: number): void {
  const id = message.conversation_id;
  refreshLists(queryClient);

  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket?.some((c) => c.id === id)) {
    // As the server counts: what people other than the reader wrote. A system line says
    // what happened, not what was asked: it moves the last seq only.
    const said = message.kind !== "system";
    const fromOther = said && message.sender_id !== me;
    const patch = (c: ConversationItem): ConversationItem => {
      const newer = message.seq > c.last_seq;
      if (!said) return newer ? { ...c, last_seq: message.seq } : c;
      if (c.last_seq >= message.seq && c.last_message?.seq === message.seq) return c;
      const shown = c.last_message?.seq ?? 0;
      return {
        ...c,
        last_seq: Math.max(c.last_seq, message.seq),
        last_message: message.seq > shown ? message : c.last_message,
        unread: fromOther && newer ? (c.unread ?? 0) + 1 : c.unread,
      };
    };
    queryClient.setQueryData<ConversationItem[]>(
      basketKey,
      basket.map((c) => (c.id === id ? patch(c) : c)),
    );
  }
  refetchIfFetching(queryClient, basketKey);

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
  if (listedUnread(queryClient, id)) refreshLists(queryClient);
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  const held = basket?.find((c) => c.id === id);
  if (basket !== undefined && held?.unread) {
    if (seq >= held.last_seq) {
      queryClient.setQueryData<ConversationItem[]>(
        basketKey,
        basket.map((c) => (c.id === id ? { ...c, unread: 0 } : c)),
      );
    } else {
      // Read part of the way: only the server can count what is left.
      refresh(queryClient, basketKey);
    }
  }
}

/** A conversation assigned to the signed-in leader. */
export function addToBasket(queryClient: QueryClient, conversation: Conversation): void {
  applyConversation(queryClient, conversation);
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket === undefined) {
    refresh(queryClient, basketKey);
    return;
  }
  const before = basket.find((c) => c.id === conversation.id);
  const others = basket.filter((c) => c.id !== conversation.id);
  const item: ConversationItem = { ...before, ...conversation };
  queryClient.setQueryData<ConversationItem[]>(basketKey, [...others, item].sort(byAge));
  // An assignment does not say what the leader has not read yet.
  if (before === undefined) refresh(queryClient, basketKey);
  else refetchIfFetching(queryClient, basketKey);
}

export function removeFromBasket(queryClient: QueryClient, id: number): void {
  const basket = queryClient.getQueryData<ConversationItem[]>(basketKey);
  if (basket !== undefined) {
    queryClient.setQueryData<ConversationItem[]>(
      basketKey,
      basket.filter((c) => c.id !== id),
    );
  }
  refetchIfFetching(queryClient, basketKey);
  // Its new state (back in the queue, transferred) did not come with this event.
  refresh(queryClient, detailKey(id));
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

/** Where a waiting request now stands (`queue_moved`), if its detail is cached as queued. */
export function applyStanding(queryClient: QueryClient, standing: QueueStanding): void {
  const key = detailKey(standing.conversation_id);
  const detail = queryClient.getQueryData<ConversationDetail>(key);
  if (detail?.conversation.status !== "queued") return;
  queryClient.setQueryData<ConversationDetail>(key, {
    ...detail,
    queue_position: standing.position,
    standing,
  });
}
