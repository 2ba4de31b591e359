import { Link, useSearchParams } from "react-router";
import { useCurrentUser } from "../api/auth";
import { useConversationList, type ListFilter, type ListSort } from "../api/conversations";
import { useTopics } from "../api/topics";
import {
  CONVERSATION_STATUSES,
  CONVERSATION_STATUS_LABELS,
  type DirectoryEntry,
} from "../api/types";
import { useDirectory } from "../api/users";
import { PersonSelect } from "../components/PersonSelect";
import { DateTime } from "../components/DateTime";
import { LoadError } from "../components/LoadError";
import { MessagePreview } from "../components/MessagePreview";
import { SearchBox } from "../components/SearchBox";
import { SearchResults } from "../components/SearchResults";
import { StatusBadge } from "../components/StatusBadge";
import { usePageTitle } from "../components/usePageTitle";
import { useTopicName } from "../components/useTopicName";
import { HistorySelection } from "../components/HistorySelection";
import { either, readFilter, REPLACES, SELECTION_PARAMS } from "./historyFilter";
import { useLiveHistory } from "./useLiveHistory";

/** The topic select's value for "no topic" (`no_topic=true` in the URL). */
const NO_TOPIC = "none";

const SORTS: Record<ListSort, string> = {
  activity: "Latest activity first",
  newest: "Newest first",
  oldest: "Oldest first",
};

/** Every conversation the team had, filtered and searched (leaders and admins). */
export function HistoryPage() {
  usePageTitle("History");
  useLiveHistory();
  const [params, setParams] = useSearchParams();
  const filter = readFilter(params);
  const query = params.get("q") ?? "";

  // Each change first drops its names (and what they replace), then writes the new values.
  const update = (changes: Record<string, string | string[] | null>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const name of Object.keys(changes)) {
          for (const n of [name, ...(REPLACES[name] ?? [])]) next.delete(n);
        }
        for (const [name, value] of Object.entries(changes)) {
          for (const v of Array.isArray(value) ? value : value ? [value] : []) next.append(name, v);
        }
        return next;
      },
      { replace: true },
    );
  const set = (name: string, value: string | string[] | null) => update({ [name]: value });

  return (
    <section aria-labelledby="page-title" className="history">
      <div className="page-head">
        <h1 id="page-title">History</h1>
      </div>
      <div className="history-grid">
        <Filters
          params={params}
          set={set}
          update={update}
          clear={() => setParams(query ? { q: query } : {}, { replace: true })}
        />
        <div className="history-main">
          {SELECTION_PARAMS.some((name) => params.has(name)) && (
            <HistorySelection
              filter={filter}
              onClear={() => update(Object.fromEntries(SELECTION_PARAMS.map((n) => [n, null])))}
            />
          )}
          <SearchBox
            label="Search messages"
            value={query}
            onSearch={(q) => set("q", q || null)}
          />
          {query !== "" ? (
            <SearchResults
              query={query}
              filter={filter}
              linkTo={(hit) => `/conversations/${hit.conversation.id}?seq=${hit.message.seq}`}
            />
          ) : (
            <ConversationTable filter={filter} />
          )}
        </div>
      </div>
    </section>
  );
}

interface FiltersProps {
  params: URLSearchParams;
  set: (name: string, value: string | string[] | null) => void;
  update: (changes: Record<string, string | string[] | null>) => void;
  clear: () => void;
}

function Filters({ params, set, update, clear }: FiltersProps) {
  const me = useCurrentUser();
  const admin = me.role === "admin";
  const topics = useTopics({ includeArchived: admin });
  const directory = useDirectory();
  const statuses = params.getAll("status");
  const people = (role: DirectoryEntry["role"]) =>
    (directory.data ?? [])
      .filter((u) => u.role === role)
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
  const anySet = [...params.keys()].some((k) => k !== "q");

  return (
    <form
      className="card filters-panel"
      aria-label="Filters"
      onSubmit={(e) => e.preventDefault()}
    >
      <h2>Filters</h2>
      <fieldset className="choices">
        <legend>State</legend>
        {CONVERSATION_STATUSES.map((status) => (
          <label key={status} className="choice">
            <input
              type="checkbox"
              checked={statuses.includes(status)}
              onChange={(e) =>
                set(
                  "status",
                  e.target.checked
                    ? [...statuses, status]
                    : statuses.filter((s) => s !== status),
                )
              }
            />
            <span>{CONVERSATION_STATUS_LABELS[status]}</span>
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="filter-topic">Topic</label>
        <select
          id="filter-topic"
          value={params.get("no_topic") === "true" ? NO_TOPIC : (either(params, "topic") ?? "")}
          onChange={(e) =>
            e.target.value === NO_TOPIC
              ? update({ topic: null, no_topic: "true" })
              : set("topic", e.target.value || null)
          }
        >
          <option value="">Any topic</option>
          <option value={NO_TOPIC}>No topic</option>
          {topics.data?.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
              {t.archived ? " (archived)" : ""}
            </option>
          ))}
        </select>
      </div>
      <PersonSelect
        id="filter-agent"
        label="Agent"
        anyone="Any agent"
        people={people("agent")}
        value={either(params, "agent") ?? ""}
        onChange={(value) => set("agent", value)}
      />
      <PersonSelect
        id="filter-leader"
        label="Team leader"
        anyone="Any team leader"
        people={people("teamleader")}
        me={me.role === "teamleader" ? me.id : undefined}
        value={either(params, "leader") ?? ""}
        onChange={(value) => set("leader", value)}
      />
      <div className="field-pair">
        <div className="field">
          <label htmlFor="filter-from">Created from</label>
          <input
            id="filter-from"
            type="date"
            value={params.get("from") ?? ""}
            onChange={(e) => set("from", e.target.value || null)}
          />
        </div>
        <div className="field">
          <label htmlFor="filter-to">Created until</label>
          <input
            id="filter-to"
            type="date"
            value={params.get("to") ?? ""}
            onChange={(e) => set("to", e.target.value || null)}
          />
        </div>
      </div>
      <div className="field">
        <label htmlFor="filter-sort">Sort</label>
        <select
          id="filter-sort"
          value={params.get("sort") ?? "activity"}
          onChange={(e) => set("sort", e.target.value === "activity" ? null : e.target.value)}
        >
          {Object.entries(SORTS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {anySet && (
        <button type="button" className="button secondary" onClick={clear}>
          Clear filters
        </button>
      )}
    </form>
  );
}

function ConversationTable({ filter }: { filter: ListFilter }) {
  const me = useCurrentUser();
  const list = useConversationList(filter);
  const topicName = useTopicName();
  const rows = list.data?.pages.flatMap((page) => page.conversations) ?? [];
  if (list.isPending) return <p className="muted">Loading conversations…</p>;
  if (list.isError) {
    return (
      <LoadError what="conversations" error={list.error} onRetry={() => void list.refetch()} />
    );
  }
  return (
    <>
      <div className="table-wrap">
        <table aria-label="Conversations">
          <thead>
            <tr>
              <th scope="col">Conversation</th>
              <th scope="col">State</th>
              <th scope="col">Agent</th>
              <th scope="col">Team leader</th>
              <th scope="col">Topic</th>
              <th scope="col">Latest message</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id}>
                <th scope="row">
                  <Link to={`/conversations/${c.id}`}>#{c.id}</Link>
                </th>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{c.agent_name ?? `#${c.agent_id}`}</td>
                <td>{c.assignee_name ?? (c.assignee_id === null ? "—" : `#${c.assignee_id}`)}</td>
                <td>{c.topic_name ?? topicName(c.topic_id)}</td>
                <td className="preview-cell">
                  <MessagePreview message={c.last_message} me={me.id} />
                  {c.wrap_up_note && (
                    <span className="wrap-up-note" title={c.wrap_up_note}>
                      Wrap-up note: {c.wrap_up_note.replace(/\s+/g, " ")}
                    </span>
                  )}
                </td>
                <td>
                  <DateTime value={c.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <p className="empty">No conversations match these filters.</p>}
      </div>
      {list.hasNextPage && (
        <button
          type="button"
          className="button secondary load-more"
          disabled={list.isFetchingNextPage}
          aria-busy={list.isFetchingNextPage}
          onClick={() => void list.fetchNextPage()}
        >
          Show more conversations
        </button>
      )}
    </>
  );
}
