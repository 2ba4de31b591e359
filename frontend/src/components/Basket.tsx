import { NavLink } from "react-router";
import type { Conversation, ConversationItem } from "../api/types";
import type { LeaderStatus } from "../realtime/events";
import { DateTime } from "./DateTime";
import { MessagePreview } from "./MessagePreview";
import { UnreadBadge } from "./UnreadBadge";

const EMPTY: Record<LeaderStatus, string> = {
  online: "Nothing assigned to you. New conversations appear here as they arrive.",
  away: "Nothing assigned to you. While you are away no new conversations arrive.",
  offline: "Go online to receive conversations.",
};

interface Props {
  /** Undefined until the basket has loaded. */
  conversations: ConversationItem[] | undefined;
  me: number;
  capacity: number;
  status: LeaderStatus | undefined;
  isNew: (conversation: Conversation) => boolean;
  topicName: (id: number | null) => string;
}

/** The conversations the leader holds, oldest first, each marked until opened. */
export function Basket({ conversations, me, capacity, status, isNew, topicName }: Props) {
  if (conversations === undefined) {
    return (
      <section className="card basket" aria-labelledby="basket-title" aria-busy="true">
        <h2 id="basket-title">Your conversations</h2>
        <p className="muted">Loading…</p>
      </section>
    );
  }
  const held = conversations.length;
  return (
    <section className="card basket" aria-labelledby="basket-title">
      <div className="section-head">
        <h2 id="basket-title">Your conversations</h2>
        <span className="load" data-testid="basket-load">
          <span>
            {held} of {capacity}
            {held > capacity && " · over capacity: no new work until below"}
          </span>
          <span className="load-bar" aria-hidden="true">
            <span style={{ width: `${Math.min(100, (held / Math.max(capacity, 1)) * 100)}%` }} />
          </span>
        </span>
      </div>
      {held === 0 ? (
        <p className="empty">{EMPTY[status ?? "offline"]}</p>
      ) : (
        <ul className="basket-list" aria-labelledby="basket-title">
          {conversations.map((conversation) => {
            const fresh = isNew(conversation);
            return (
              <li key={conversation.id}>
                <NavLink
                  to={`/workspace/${conversation.id}`}
                  className={fresh ? "basket-item new" : "basket-item"}
                >
                  <span className="basket-item-title">
                    Conversation #{conversation.id}
                    {fresh && <span className="new-badge">New</span>}
                    <UnreadBadge count={conversation.unread} />
                  </span>
                  <MessagePreview message={conversation.last_message} me={me} />
                  <span className="basket-item-meta">
                    <span>
                      {conversation.agent_name && <>{conversation.agent_name} · </>}
                      {conversation.topic_name ?? topicName(conversation.topic_id)}
                    </span>
                    {conversation.assigned_at && (
                      <span>
                        Assigned <DateTime value={conversation.assigned_at} />
                      </span>
                    )}
                  </span>
                </NavLink>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
