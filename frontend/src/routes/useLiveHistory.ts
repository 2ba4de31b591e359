import { useQueryClient } from "@tanstack/react-query";
import { refreshLists } from "../api/conversations";
import { useSocketEvent } from "../realtime/context";

/**
 * The history's rows follow the team's conversations: a routing change (`monitor_changed`,
 * heard by admins and leaders) refetches the lists, a burst of them once.
 */
export function useLiveHistory(): void {
  const queryClient = useQueryClient();
  useSocketEvent("monitor_changed", ({ changes }) => {
    if (changes.some((change) => change.conversation_id != null)) refreshLists(queryClient);
  });
}
