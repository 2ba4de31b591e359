import { useEffect, useRef, useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { useCurrentUser } from "../api/auth";
import { useBasket } from "../api/conversations";
import { useSocketEvent } from "../realtime/context";
import { useLeaderStatus } from "../realtime/status";
import { beep, notify } from "../components/alerts";
import { assignmentAlert } from "../components/alertText";
import { Basket } from "../components/Basket";
import { ConversationView } from "../components/ConversationView";
import { LoadError } from "../components/LoadError";
import { NotificationToggle } from "../components/NotificationToggle";
import { StatusSelector } from "../components/StatusSelector";
import { useOpened } from "../components/useOpened";
import { usePageTitle } from "../components/usePageTitle";
import { parseId } from "./params";
import { useTopicName } from "../components/useTopicName";

export function WorkspacePage() {
  const user = useCurrentUser();
  const { conversationId } = useParams();
  const selectedId = parseId(conversationId);
  const [params] = useSearchParams();
  const around = parseId(params.get("seq"));
  const basket = useBasket();
  const status = useLeaderStatus();
  const topicName = useTopicName();
  const { isNew, markOpened } = useOpened(user.id);
  const [notice, setNotice] = useState<string | null>(null);
  const navigate = useNavigate();

  const conversations = basket.data ?? [];
  const fresh = conversations.filter((c) => isNew(c) || (c.unread ?? 0) > 0).length;
  usePageTitle(fresh > 0 ? `(${fresh}) Workspace` : "Workspace");
  useAssignmentAlerts();

  const held = conversations.find((c) => c.id === selectedId);
  useEffect(() => {
    if (held) markOpened(held);
  }, [held, markOpened]);
  // The last outcome is old news once another conversation is opened.
  useEffect(() => {
    if (selectedId !== null) setNotice(null);
  }, [selectedId]);

  return (
    <section aria-labelledby="page-title" className="workspace fills-window">
      <div className="page-head">
        <h1 id="page-title">Workspace</h1>
        <div className="page-tools">
          <StatusSelector />
          <NotificationToggle />
        </div>
      </div>
      <div className="workspace-grid">
        <div className="workspace-side">
          {basket.isError ? (
            <LoadError
              what="your conversations"
              error={basket.error}
              onRetry={() => void basket.refetch()}
            />
          ) : (
            <Basket
              conversations={basket.data}
              me={user.id}
              capacity={user.capacity}
              status={status}
              isNew={isNew}
              topicName={topicName}
            />
          )}
        </div>
        <div className="workspace-main">
          <Notice text={notice} />
          {selectedId === null ? (
            <div className="card conversation-none">
              <p className="empty">
                {conversations.length > 0
                  ? "Choose a conversation from your list to chat and submit it."
                  : "The conversation you open appears here."}
              </p>
            </div>
          ) : (
            <ConversationView
              id={selectedId}
              around={around}
              onHandedOff={(text) => {
                setNotice(text);
                void navigate("/workspace");
              }}
            />
          )}
        </div>
      </div>
    </section>
  );
}

/** Announces the outcome of a submit and takes the focus, whose button has gone. */
function Notice({ text }: { text: string | null }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (text !== null) ref.current?.focus();
  }, [text]);
  return (
    <p role="status" ref={ref} tabIndex={-1} className={text ? "notice" : "visually-hidden"}>
      {text}
    </p>
  );
}

/** A beep and a desktop notification for each new assignment while the page is hidden. */
function useAssignmentAlerts(): void {
  const navigate = useNavigate();
  useSocketEvent("assign_conversation", (assigned) => {
    if (document.visibilityState !== "hidden") return;
    beep();
    const { conversation } = assigned;
    const { title, body } = assignmentAlert(assigned);
    notify(
      title,
      body,
      `conversation-${conversation.id}`,
      () => void navigate(`/workspace/${conversation.id}`),
    );
  });
}
