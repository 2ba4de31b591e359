import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { api } from "../api/client";
import { applyConversation, applyRead, useConversation } from "../api/conversations";
import { useLoadMore, useMessages } from "../api/messages";
import type { Conversation } from "../api/types";
import { useRealtime, useSocketEvent } from "../realtime/context";
import { useOutbox, useSend, type Outgoing } from "../realtime/outbox";
import { call } from "../realtime/socket";
import { Composer } from "./Composer";
import { draftKey } from "./drafts";
import { LoadError } from "./LoadError";
import { MessageList } from "./MessageList";

const TYPING_SHOWN_MS = 4_000;

interface Props {
  conversation: Conversation;
  me: number;
  /** Whether the viewer may write; others read only. */
  canWrite: boolean;
  /** Whether the composer offers canned responses on `/` (a leader or admin writing). */
  canned?: boolean;
  /** A message to open the conversation at and highlight (a search hit). */
  around: number | null;
  /** Shown above the message box, e.g. that writing reopens a solved conversation. */
  composerNote?: string | null;
  /** Shown instead of the message box when the viewer cannot write. */
  readOnlyNote?: ReactNode;
  /** Extra actions offered with a failed send, e.g. "New request" when it is closed. */
  errorAction?: (item: Outgoing) => ReactNode;
}

/** One conversation's messages, live, with the box to write in. */
export function ChatView({
  conversation,
  me,
  canWrite,
  canned = false,
  around,
  composerNote,
  readOnlyNote,
  errorAction,
}: Props) {
  const id = conversation.id;
  const queryClient = useQueryClient();
  const { socket } = useRealtime();
  const messages = useMessages(id, around);
  const more = useLoadMore(id, around);
  const outgoing = useOutbox(id);
  const { send, retry, discard } = useSend(id, me);
  const detail = useConversation(id);
  const [atEnd, setAtEnd] = useState(false);
  const focused = useWindowFocus();
  const typing = useTyping(id, me);

  // Joined, this socket also gets the conversation's typing and read events,
  // and everything else for readers who are neither its agent nor its leader.
  useEffect(() => {
    if (socket === null) return;
    const join = () => {
      call(socket, "join_conversation", { conversation_id: id })
        .then(({ conversation: current }) => applyConversation(queryClient, current))
        .catch(() => undefined);
    };
    if (socket.connected) join();
    socket.on("connect", join);
    return () => {
      socket.off("connect", join);
      if (socket.connected) {
        call(socket, "leave_conversation", { conversation_id: id }).catch(() => undefined);
      }
    };
  }, [socket, id, queryClient]);

  // Read up to the newest message once it is on screen in a focused window.
  const newest = messages.data?.messages[messages.data.messages.length - 1]?.seq ?? 0;
  const readSeq = detail.data?.last_read_seq ?? 0;
  const sent = useRef(0);
  useEffect(() => {
    if (!atEnd || !focused || newest <= readSeq || newest <= sent.current) return;
    sent.current = newest;
    const mark = socket?.connected
      ? call(socket, "mark_read", { conversation_id: id, seq: newest })
      : api.post<{ last_read_seq: number }>(`/api/conversations/${id}/read`, { seq: newest });
    mark
      .then(({ last_read_seq }) => applyRead(queryClient, id, last_read_seq))
      .catch(() => {
        sent.current = 0; // try again on the next change
      });
  }, [atEnd, focused, newest, readSeq, socket, id, queryClient]);

  const onTyping = useCallback(() => {
    call(socket, "typing", { conversation_id: id }).catch(() => undefined);
  }, [socket, id]);
  const { load } = more;
  const onLoad = useCallback((direction: "older" | "newer") => void load(direction), [load]);

  const closed = conversation.status === "closed" || conversation.status === "cancelled";
  return (
    <section className="chat" aria-label="Chat">
      {messages.isPending && <p className="muted chat-loading">Loading messages…</p>}
      {messages.isError && (
        <LoadError
          what="the messages"
          error={messages.error}
          onRetry={() => void messages.refetch()}
        />
      )}
      {messages.data && (
        <MessageList
          window={messages.data}
          outgoing={outgoing}
          me={me}
          highlight={around}
          loading={more.loading}
          loadError={more.error}
          onLoad={onLoad}
          onAtEnd={setAtEnd}
          onRetry={retry}
          onDiscard={discard}
          errorAction={errorAction}
        />
      )}
      <p className="typing" role="status">
        {typing ? `${typing} is typing…` : ""}
      </p>
      {canWrite && !closed ? (
        <Composer
          key={id}
          draftKey={draftKey(me, id)}
          onSend={send}
          onTyping={onTyping}
          note={composerNote}
          canned={canned ? { topicId: conversation.topic_id } : undefined}
        />
      ) : (
        <div className="chat-readonly">{readOnlyNote}</div>
      )}
    </section>
  );
}

function useWindowFocus(): boolean {
  const read = () => document.visibilityState === "visible" && document.hasFocus();
  const [focused, setFocused] = useState(read);
  useEffect(() => {
    const update = () => setFocused(read());
    window.addEventListener("focus", update);
    window.addEventListener("blur", update);
    document.addEventListener("visibilitychange", update);
    return () => {
      window.removeEventListener("focus", update);
      window.removeEventListener("blur", update);
      document.removeEventListener("visibilitychange", update);
    };
  }, []);
  return focused;
}

/** Who else is typing here: a name for a few seconds after each `typing` event. */
function useTyping(conversationId: number, me: number): string | null {
  const [typist, setTypist] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useSocketEvent("typing", ({ conversation_id, user_id, display_name }) => {
    if (conversation_id !== conversationId || user_id === me) return;
    setTypist(display_name);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setTypist(null), TYPING_SHOWN_MS);
  });
  // A message from them ends their typing.
  useSocketEvent("new_message", ({ conversation_id, message }) => {
    if (conversation_id === conversationId && message.sender_id !== me) {
      clearTimeout(timer.current);
      setTypist(null);
    }
  });
  useEffect(() => () => clearTimeout(timer.current), []);
  return typist;
}
