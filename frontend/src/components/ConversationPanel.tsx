import type { ReactNode } from "react";
import type { Conversation } from "../api/types";
import { DateTime } from "./DateTime";
import { StatusBadge } from "./StatusBadge";

interface Props {
  conversation: Conversation;
  topic: string;
  /** What the viewer can do with it, e.g. the "Submit as" form. */
  children?: ReactNode;
}

/** One conversation's facts: state, topic, the customer's ticket and its times. */
export function ConversationPanel({ conversation, topic, children }: Props) {
  const c = conversation;
  return (
    <article className="card conversation" aria-labelledby="conversation-title">
      <header className="conversation-head">
        <h2 id="conversation-title">Conversation #{c.id}</h2>
        <StatusBadge status={c.status} />
      </header>
      <dl className="details">
        <Detail term="Topic">{topic}</Detail>
        <Detail term="Customer ticket">
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
        <Detail term="Created">
          <DateTime value={c.created_at} />
        </Detail>
        {c.assigned_at && (
          <Detail term="Assigned">
            <DateTime value={c.assigned_at} />
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
      </dl>
      {children}
    </article>
  );
}

function Detail({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
