import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { subscribe, type TeamTalkSocket } from "../realtime/socket";
import { api } from "./client";
import type * as Api from "./openapi.gen";

// The live dashboard's shapes, as the server's OpenAPI document names them.
export type Overview = Api.MonitoringOverview;
export type QueuedRequest = Api.QueuedRequest;
export type LeaderOverview = Api.LeaderOverview;
export type HeldConversation = Api.HeldConversation;
export type AssignmentWindow = Api.AssignmentWindow;
export type ServiceLevelWindow = Api.ServiceLevelWindow;
export type SeriesPoint = Api.SeriesPoint;
export type WorkerHealth = Api.WorkerHealth;
export type LeaderStatus = LeaderOverview["status"];

export const overviewKey = ["monitoring", "overview"] as const;

/** The browser's time zone, which says when the service level's "today" began. */
function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * The whole live overview. Never polled: `monitor_changed` refreshes it (see
 * watchOverview), and waits shown tick on a local clock.
 */
export function useOverview(enabled = true) {
  return useQuery({
    queryKey: overviewKey,
    queryFn: () =>
      api.get<Overview>(`/api/monitoring/overview?tz=${encodeURIComponent(timeZone())}`),
    staleTime: Infinity,
    enabled,
  });
}

/** Routing changes come in bursts; one refetch per burst, at most this late. */
export const OVERVIEW_DEBOUNCE_MS = 250;

/**
 * Refetches the overview after `monitor_changed` (admins only receive it). The first
 * event of a burst starts the wait and later ones join it, so a steady stream of changes
 * still refreshes the page every `OVERVIEW_DEBOUNCE_MS`. The wait also lets what follows
 * the event's commit land: a new request reaches the Redis queue just after it, and an
 * overview read in between would show it as not yet in routing. Each connect refreshes
 * it too. Returns an unbind.
 */
export function watchOverview(socket: TeamTalkSocket, queryClient: QueryClient): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refetch = () => void queryClient.invalidateQueries({ queryKey: overviewKey, exact: true });
  const off = subscribe(socket, "monitor_changed", () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      refetch();
    }, OVERVIEW_DEBOUNCE_MS);
  });
  // Changes before the (first) connect were never heard: an overview fetched then is old.
  socket.on("connect", refetch);
  return () => {
    clearTimeout(timer);
    socket.off("connect", refetch);
    off();
  };
}

function useOverride<V>(send: (variables: V) => Promise<unknown>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: send,
    // Refused or not, the overview may be behind what the server knows.
    onSettled: () => queryClient.invalidateQueries({ queryKey: overviewKey, exact: true }),
  });
}

const conversationPath = (id: number) => `/api/overrides/conversations/${id}`;

export function useMoveToFront() {
  return useOverride((conversationId: number) =>
    api.post<Api.OverrideResult>(`${conversationPath(conversationId)}/front`),
  );
}

export function useAssignTo() {
  return useOverride(({ conversationId, leaderId }: { conversationId: number; leaderId: number }) =>
    api.post<Api.OverrideResult>(`${conversationPath(conversationId)}/assign`, {
      leader_id: leaderId,
    } satisfies Api.OverrideAssignIn),
  );
}

/** From its leader to the head of the queue (`leaderId` null) or to another leader. */
export function useTakeBack() {
  return useOverride(
    ({ conversationId, leaderId }: { conversationId: number; leaderId: number | null }) =>
      api.post<Api.OverrideResult>(`${conversationPath(conversationId)}/take`, {
        leader_id: leaderId,
      } satisfies Api.OverrideTakeIn),
  );
}

export function useSetLeaderStatus() {
  return useOverride(({ leaderId, status }: { leaderId: number; status: "away" | "offline" }) =>
    api.post<Api.OverrideLeader>(`/api/overrides/leaders/${leaderId}/status`, {
      status,
    } satisfies Api.OverrideStatusIn),
  );
}
