import type { QueryClient } from "@tanstack/react-query";
import {
  addToBasket,
  applyConversation,
  removeFromBasket,
  setBasket,
} from "../api/conversations";
import { subscribe, type TeamTalkSocket } from "./socket";
import { statusKey } from "./status";

/**
 * Keeps the query cache in step with the server's events. Bound before the
 * socket connects, so the basket and status sent on connect are never missed
 * by a page that has not mounted yet. Returns a function that unbinds.
 */
export function bindQueryCache(socket: TeamTalkSocket, queryClient: QueryClient): () => void {
  const unbind = [
    subscribe(socket, "ack_status", ({ status }) => queryClient.setQueryData(statusKey, status)),
    subscribe(socket, "sync_basket", ({ conversations }) => setBasket(queryClient, conversations)),
    subscribe(socket, "assign_conversation", ({ conversation }) =>
      addToBasket(queryClient, conversation),
    ),
    subscribe(socket, "update_conversation", ({ conversation }) =>
      applyConversation(queryClient, conversation),
    ),
    subscribe(socket, "remove_from_basket", ({ conversation_id }) =>
      removeFromBasket(queryClient, conversation_id),
    ),
  ];
  return () => unbind.forEach((off) => off());
}
