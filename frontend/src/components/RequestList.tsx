import { useSearchParams } from "react-router";
import { useConversation, useConversationList } from "../api/conversations";
import type { Conversation, ConversationStatus } from "../api/types";
import { DateTime } from "./DateTime";
import { LoadError } from "./LoadError";
import { Segmented, type Option } from "./Segmented";
import { StatusBadge } from "./StatusBadge";
import { useTopicName } from "./useTopicName";

type Filter = "all" | "queued" | "assigned" | "pending" | "solved" | "closed";

const FILTERS: readonly (Option<Filter> & { statuses: readonly ConversationStatus[] })[] = [
  { value: "all", label: "All", statuses: [] },
  { value: "queued", label: "Waiting", statuses: ["queued"] },
  { value: "assigned", label: "With a team leader", statuses: ["assigned"] },
  { value: "pending", label: "Pending", statuses: ["pending"] },
  { value: "solved", label: "Solved", statuses: ["solved"] },
  { value: "closed", label: "Closed", statuses: ["closed", "cancelled"] },
];

const EMPTY: Record<Filter, string> = {
  all: "No requests yet. When you need a team leader's help with a case, send a request.",
  queued: "Nothing is waiting for a team leader.",
  assigned: "No request is with a team leader right now.",
  pending: "No pending requests.",
  solved: "No solved requests.",
  closed: "No closed or withdrawn requests.",
};

/** The agent's own requests, newest first, filtered by state (kept in the URL). */
export function RequestList() {
  const [params, setParams] = useSearchParams();
  const filter = FILTERS.find((f) => f.value === params.get("show")) ?? FILTERS[0]!;
  const list = useConversationList(filter.statuses);
  const topicName = useTopicName();
  const conversations = list.data?.pages.flatMap((page) => page.conversations) ?? [];

  return (
    <section className="card requests" aria-labelledby="requests-title">
      <div className="section-head">
        <h2 id="requests-title">Your requests</h2>
        <Segmented
          legend="Show"
          hideLegend
          className="filters"
          options={FILTERS}
          value={filter.value}
          onChange={(value) =>
            setParams(value === "all" ? {} : { show: value }, { replace: true })
          }
        />
      </div>
      {list.isPending && <p className="muted">Loading your requests…</p>}
      {list.isError && (
        <LoadError what="your requests" error={list.error} onRetry={() => void list.refetch()} />
      )}
      {list.isSuccess && conversations.length === 0 && (
        <p className="empty">{EMPTY[filter.value]}</p>
      )}
      {conversations.length > 0 && (
        <ul className="request-list" aria-labelledby="requests-title">
          {conversations.map((conversation) => (
            <RequestRow
              key={conversation.id}
              conversation={conversation}
              topic={topicName(conversation.topic_id)}
            />
          ))}
        </ul>
      )}
      {list.hasNextPage && (
        <button
          type="button"
          className="button secondary load-more"
          disabled={list.isFetchingNextPage}
          onClick={() => void list.fetchNextPage()}
        >
          Show older requests
        </button>
      )}
    </section>
  );
}

function RequestRow({ conversation, topic }: { conversation: Conversation; topic: string }) {
  const { id, status } = conversation;
  const queued = status === "queued";
  const detail = useConversation(id, { enabled: queued });
  const position =
    queued && detail.data?.conversation.status === "queued" ? detail.data.queue_position : null;
  const titleId = `request-${id}-title`;
  return (
    <li className="request-row" aria-labelledby={titleId}>
      <div className="request-main">
        <span className="request-title" id={titleId}>
          Request #{id}
        </span>
        <span className="request-topic">{topic}</span>
      </div>
      <div className="request-state">
        <StatusBadge status={status} />
        {position !== null && (
          <span className="queue-position">Position {position} in the queue</span>
        )}
      </div>
      <div className="request-meta">
        <span>
          Created <DateTime value={conversation.created_at} />
        </span>
        {conversation.ticket_link && (
          <a href={conversation.ticket_link} target="_blank" rel="noopener noreferrer">
            Ticket<span className="visually-hidden"> for request #{id} (opens in a new tab)</span>
          </a>
        )}
      </div>
    </li>
  );
}
