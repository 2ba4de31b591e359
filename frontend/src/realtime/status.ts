import {
  skipToken,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
} from "@tanstack/react-query";
import { useRealtime } from "./context";
import { AckRefused, isAckError, type LeaderStatus, type Payload } from "./events";

/**
 * The signed-in leader's status. It belongs to the user, not the tab: the server
 * sends `ack_status` to every tab on connect and on each change, and that is
 * the only way it enters the cache.
 */
export const statusKey = ["status"] as const;

export function useLeaderStatus(): LeaderStatus | undefined {
  return useQuery<LeaderStatus>({
    queryKey: statusKey,
    queryFn: skipToken,
    staleTime: Infinity,
    gcTime: Infinity,
  }).data;
}

const ACK_TIMEOUT_MS = 5_000;

export function useSetStatus() {
  const { socket } = useRealtime();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (status: LeaderStatus) => {
      if (socket === null || !socket.connected) {
        throw new AckRefused("not_connected", "Not connected to the server. Try again shortly.");
      }
      let answer;
      try {
        answer = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("set_status", { status });
      } catch {
        throw new AckRefused("timeout", "The server did not answer. Try again.");
      }
      if (isAckError(answer)) throw new AckRefused(answer.error.code, answer.error.message);
      return answer.status;
    },
    onSuccess: (status) => {
      queryClient.setQueryData(statusKey, status);
      queryClient.setQueryData(offlineKey, null);
    },
  });
}

export type OfflineReason = NonNullable<Payload<"ack_status">["offline_reason"]>;

/** Why the system (not the leader) set them offline, as the server said. */
export interface OfflineWhy {
  reason: OfflineReason;
  since: string;
  graceSeconds: number | null;
}

// Not under statusKey: invalidating the status must not touch this.
export const offlineKey = ["offline-why"] as const;

/** An `ack_status` into the cache: the status, and why the system set it offline, if it did. */
export function applyStatus(queryClient: QueryClient, ack: Payload<"ack_status">): void {
  queryClient.setQueryData(statusKey, ack.status);
  const why: OfflineWhy | null =
    ack.status === "offline" && ack.offline_reason && ack.offline_since
      ? {
          reason: ack.offline_reason,
          since: ack.offline_since,
          graceSeconds: ack.grace_seconds ?? null,
        }
      : null;
  queryClient.setQueryData(offlineKey, why);
}

export function useOfflineWhy(): OfflineWhy | null {
  return (
    useQuery<OfflineWhy | null>({
      queryKey: offlineKey,
      queryFn: skipToken,
      staleTime: Infinity,
      gcTime: Infinity,
    }).data ?? null
  );
}

export function dismissOfflineWhy(queryClient: QueryClient): void {
  queryClient.setQueryData(offlineKey, null);
}
