import { NavLink, useSearchParams } from "react-router";
import { useCurrentUser } from "../api/auth";
import { useConversation, useConversationList } from "../api/conversations";
import type { ConversationItem, ConversationStatus } from "../api/types";
import { DateTime } from "./DateTime";
import { LoadError } from "./LoadError";
import { MessagePreview } from "./MessagePreview";
import { SearchBox } from "./SearchBox";
import { SearchResults } from "./SearchResults";
import { StatusBadge } from "./StatusBadge";
import { UnreadBadge } from "./UnreadBadge";
import { usePageTitle } from "./usePageTitle";
import { useTopicName } from "./useTopicName";

type Filter = "all" | "queued" | "assigned" | "pending" | "solved" | "closed";

const FILTERS: readonly { value: Filter; label: string; statuses: readonly ConversationStatus[] }[] = [
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

/**
 * The agent's own requests, latest activity first, filtered by state, or the
 * results of a search through them (both kept in the URL). The page title
 * counts the unread messages.
 */
export function RequestList() {
  const [params, setParams] = useSearchParams();
  const filter = FILTERS.find((f) => f.value === params.get("show")) ?? FILTERS[0]!;
  const query = params.get("q") ?? "";
  const list = useConversationList({ statuses: filter.statuses, sort: "activity" });
  const conversations = list.data?.pages.flatMap((page) => page.conversations) ?? [];
  const unread = conversations.reduce((sum, c) => sum + (c.unread ?? 0), 0);
  usePageTitle(unread > 0 ? `(${unread}) Inbox` : "Inbox");

  const update = (changes: Record<string, string | null>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value === null || value === "") next.delete(key);
          else next.set(key, value);
        }
        // The open message belongs to the result it was opened from.
        next.delete("seq");
        return next;
      },
      { replace: true },
    );

  return (
    <section className="card requests" aria-labelledby="requests-title">
      <div className="section-head">
        <h2 id="requests-title">Your requests</h2>
        <NavLink to="/inbox" end className="button secondary small">
          New request
        </NavLink>
      </div>
      <SearchBox
        label="Search your requests"
        value={query}
        onSearch={(q) => update({ q: q || null })}
      />
      {query !== "" ? (
        <SearchResults
          query={query}
          filter={{ statuses: [] }}
          noun="Request"
          linkTo={(hit) => `/inbox/${hit.conversation.id}?q=${encodeURIComponent(query)}&seq=${hit.message.seq}`}
        />
      ) : (
        <>
          <div className="field inline-field">
            <label htmlFor="requests-show">Show</label>
            <select
              id="requests-show"
              value={filter.value}
              onChange={(e) => update({ show: e.target.value === "all" ? null : e.target.value })}
            >
              {FILTERS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          </div>
          {list.isPending && <p className="muted">Loading your requests…</p>}
          {list.isError && (
            <LoadError
              what="your requests"
              error={list.error}
              onRetry={() => void list.refetch()}
            />
          )}
          {list.isSuccess && conversations.length === 0 && (
            <p className="empty">{EMPTY[filter.value]}</p>
          )}
          {conversations.length > 0 && (
            <ul className="request-list" aria-labelledby="requests-title">
              {conversations.map((conversation) => (
                <RequestRow key={conversation.id} conversation={conversation} />
              ))}
            </ul>
          )}
          {list.hasNextPage && (
            <button
              type="button"
              className="button secondary load-more"
              disabled={list.isFetchingNextPage}
              aria-busy={list.isFetchingNextPage}
              onClick={() => void list.fetchNextPage()}
            >
              Show more requests
            </button>
          )}
        </>
      )}
    </section>
  );
}

function RequestRow({ conversation }: { conversation: ConversationItem }) {
  const { id, status } = conversation;
  const me = useCurrentUser();
  const topicName = useTopicName();
  const [params] = useSearchParams();
  const queued = status === "queued";
  const detail = useConversation(id, { enabled: queued });
  const position =
    queued && detail.data?.conversation.status === "queued" ? detail.data.queue_position : null;
  const activity = conversation.last_message?.created_at ?? conversation.updated_at;
  const show = params.get("show");
  return (
    <li className="request-row">
      <NavLink
        to={show ? `/inbox/${id}?show=${show}` : `/inbox/${id}`}
        className={conversation.unread ? "request-link unread" : "request-link"}
      >
        <span className="request-main">
          <span className="request-title">Request #{id}</span>
          <span className="request-meta">
            <DateTime value={activity} />
          </span>
          <UnreadBadge count={conversation.unread} />
        </span>
        <MessagePreview message={conversation.last_message} me={me.id} />
        <span className="request-state">
          <StatusBadge status={status} />
          <span className="request-topic">
            {conversation.topic_name ?? topicName(conversation.topic_id)}
          </span>
          {position !== null && (
            <span className="queue-position">Position {position} in the queue</span>
          )}
        </span>
      </NavLink>
    </li>
  );
}
