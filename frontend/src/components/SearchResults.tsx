import { Link } from "react-router";
import type { ListFilter } from "../api/conversations";
import { useSearch } from "../api/search";
import type { SearchHit, SnippetPart } from "../api/types";
import { DateTime } from "./DateTime";
import { LoadError } from "./LoadError";
import { StatusBadge } from "./StatusBadge";

interface Props {
  query: string;
  filter: ListFilter;
  /** Where a hit opens: its conversation at that message. */
  linkTo: (hit: SearchHit) => string;
  /** What a conversation is called here, e.g. "Request" in the agent's inbox. */
  noun?: string;
}

/** Messages matching a search, each with its conversation and the matching words marked. */
export function SearchResults({ query, filter, linkTo, noun = "Conversation" }: Props) {
  const search = useSearch(query, filter);
  const hits = search.data?.pages.flatMap((page) => page.hits) ?? [];
  return (
    <div className="search-results">
      {search.isPending && <p className="muted">Searching…</p>}
      {search.isError && (
        <LoadError what="the results" error={search.error} onRetry={() => void search.refetch()} />
      )}
      {search.isSuccess && (
        <p role="status" className="muted result-count">
          {hits.length === 0
            ? `No messages match “${query}”.`
            : `${hits.length}${search.hasNextPage ? "+" : ""} ${hits.length === 1 ? "message matches" : "messages match"} “${query}”.`}
        </p>
      )}
      {hits.length > 0 && (
        <ul className="hit-list" aria-label="Search results">
          {hits.map((hit) => (
            <li key={hit.message.id} className="hit">
              <Link to={linkTo(hit)} className="hit-link">
                <span className="hit-head">
                  <span className="hit-title">
                    {noun} #{hit.conversation.id}
                  </span>
                  <StatusBadge status={hit.conversation.status} />
                </span>
                <span className="hit-snippet">
                  {hit.message.sender_name && (
                    <span className="hit-sender">{hit.message.sender_name}: </span>
                  )}
                  <Snippet parts={hit.snippet} />
                </span>
                <span className="hit-meta">
                  {[hit.conversation.agent_name, hit.conversation.topic_name]
                    .filter(Boolean)
                    .join(" · ")}
                  {" · "}
                  <DateTime value={hit.message.created_at} />
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {search.hasNextPage && (
        <button
          type="button"
          className="button secondary load-more"
          disabled={search.isFetchingNextPage}
          aria-busy={search.isFetchingNextPage}
          onClick={() => void search.fetchNextPage()}
        >
          Show more results
        </button>
      )}
    </div>
  );
}

/** The server's snippet: matching parts marked, all of it as text. */
export function Snippet({ parts }: { parts: readonly SnippetPart[] }) {
  return (
    <>
      {parts.map((part, i) => (part.match ? <mark key={i}>{part.text}</mark> : part.text))}
    </>
  );
}
