import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { refreshLists } from "../api/conversations";
import { useRealtime, useSocketEvent } from "../realtime/context";
import { call } from "../realtime/socket";

/**
 * The history's rows follow the team's conversations while the page is open: it follows
 * the team's routing changes (`follow_history`, again after each reconnect), and each
 * `monitor_changed` refetches the lists, a burst of them once.
 */
export function useLiveHistory(): void {
  const queryClient = useQueryClient();
  const { socket, state } = useRealtime();
  useEffect(() => {
    if (socket === null || state !== "connected") return;
    call(socket, "follow_history", { on: true }).catch(() => undefined);
    return () => {
      if (socket.connected) call(socket, "follow_history", { on: false }).catch(() => undefined);
    };
  }, [socket, state]);
  useSocketEvent("monitor_changed", ({ changes }) => {
    if (changes.some((change) => change.conversation_id != null)) refreshLists(queryClient);
  });
}
