import type { ReactNode } from "react";
import type { Conversation } from "../api/types";
import { DateTime } from "./DateTime";
import { StatusBadge } from "./StatusBadge";
import { useTopicName } from "./useTopicName";

interface Props {
  conversation: Conversation;
  /** Place in the queue while it waits (1 is next). */
  queuePosition?: number | null;
  /** Where the viewer's own waiting request stands, under the header. */
  standing?: ReactNode;
  /** What the viewer can do with it, e.g. the "Submit as" form. */
  actions?: ReactNode;
  /** The chat. */
  children?: ReactNode;
}

/** One conversation: its state, people, topic, the customer's ticket, times, then the chat. */
export function ConversationPanel({
  conversation,
  queuePosition,
  standing,
  actions,
  children,
}: Props) {
  const c = conversation;
  const topicName = useTopicName();
  return (
    <article className="card conversation" aria-labelledby="conversation-title">
      <header className="conversation-head">
        <h2 id="conversation-title">Conversation #{c.id}</h2>
        <div className="conversation-state">
          <StatusBadge status={c.status} />
          {c.status === "queued" && queuePosition != null && (
            <span className="queue-position">Position {queuePosition} in the queue</span>
          )}
        </div>
      </header>
      {c.status === "queued" && standing}
      <dl className="details">
        <Detail term="Agent">{c.agent_name ?? `#${c.agent_id}`}</Detail>
        <Detail term="Team leader">
          {c.assignee_id === null ? (
            <span className="muted">None</span>
          ) : (
            (c.assignee_name ?? `#${c.assignee_id}`)
          )}
        </Detail>
        <Detail term="Topic">{c.topic_name ?? topicName(c.topic_id)}</Detail>
        <Detail term="Created">
          <DateTime value={c.created_at} />
        </Detail>
        {c.first_response_at && (
          <Detail term="First answer">
            <DateTime value={c.first_response_at} />
          </Detail>
        )}
        {c.resolved_at && (
          <Detail term="Resolved">
            <DateTime value={c.resolved_at} />
          </Detail>
        )}
        {c.closed_at && (
          <Detail term="Closed">
            <DateTime value={c.closed_at} />
          </Detail>
        )}
        <Detail term="Customer ticket" wide>
          {c.ticket_link ? (
            <a
              className="ticket-link"
              href={c.ticket_link}
              target="_blank"
              rel="noopener noreferrer"
            >
              {c.ticket_link}
              <span className="visually-hidden"> (opens in a new tab)</span>
            </a>
          ) : (
            <span className="muted">None given</span>
          )}
        </Detail>
      </dl>
      {actions && <div className="conversation-actions">{actions}</div>}
      {children}
    </article>
  );
}

function Detail({ term, wide, children }: { term: string; wide?: boolean; children: ReactNode }) {
  return (
    <div className={wide ? "wide" : undefined}>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
