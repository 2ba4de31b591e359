import { skipToken, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRealtime } from "./context";
import { AckRefused, isAckError, type LeaderStatus } from "./events";

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
    onSuccess: (status) => queryClient.setQueryData(statusKey, status),
  });
}
