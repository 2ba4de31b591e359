import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { meKey } from "../api/auth";
import { bindQueryCache, resync } from "./cache";
import { RealtimeContext, type ConnectionState } from "./context";
import { createSocket, type TeamTalkSocket } from "./socket";

const REFUSED_RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

interface Props {
  /** The signed-in user; no connection is made while this is null. */
  userId: number | null;
  children: ReactNode;
}

export function RealtimeProvider({ userId, children }: Props) {
  const queryClient = useQueryClient();
  const [socket, setSocket] = useState<TeamTalkSocket | null>(null);
  const [state, setState] = useState<ConnectionState>("connecting");

  useEffect(() => {
    if (userId === null) return;
    const current = createSocket();
    let wasConnected = false;
    let refusals = 0;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;

    // socket.io retries dropped connections by itself, but not ones the server
    // refused or closed; those are retried here after checking the session.
    const retryLater = () => {
      clearTimeout(retryTimer);
      const delay = REFUSED_RETRY_MS[Math.min(refusals, REFUSED_RETRY_MS.length - 1)];
      refusals += 1;
      void queryClient.invalidateQueries({ queryKey: meKey });
      retryTimer = setTimeout(() => current.connect(), delay);
    };

    current.on("connect", () => {
      refusals = 0;
      setState("connected");
      // Events may have been missed while away (or, on the first connect, since
      // pages loaded over HTTP): catch up.
      void resync(current, queryClient, { reconnected: wasConnected });
      wasConnected = true;
    });
    current.on("disconnect", (reason) => {
      if (reason === "io client disconnect") return;
      setState("reconnecting");
      if (reason === "io server disconnect") retryLater();
    });
    current.on("connect_error", () => {
      setState("reconnecting");
      if (!current.active) retryLater();
    });

    bindQueryCache(current, queryClient, userId);
    setState("connecting");
    setSocket(current);
    current.connect();
    return () => {
      clearTimeout(retryTimer);
      current.removeAllListeners();
      current.disconnect();
      setSocket(null);
    };
  }, [userId, queryClient]);

  return <RealtimeContext.Provider value={{ socket, state }}>{children}</RealtimeContext.Provider>;
}
