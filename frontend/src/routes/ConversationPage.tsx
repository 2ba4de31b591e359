import { Link, Navigate, useLocation, useParams, useSearchParams } from "react-router";
import { useCurrentUser } from "../api/auth";
import { useConversation } from "../api/conversations";
import { ConversationView } from "../components/ConversationView";
import { usePageTitle } from "../components/usePageTitle";
import { NotFoundPage } from "./NotFoundPage";
import { parseId } from "./params";

/**
 * A conversation by URL, for anyone who may read it (admins, past leaders).
 * Its agent and its current leader are sent to their own page for it, where
 * they can act on it.
 */
export function ConversationPage() {
  const { conversationId } = useParams();
  const [params] = useSearchParams();
  const { search } = useLocation();
  const id = parseId(conversationId);
  const around = parseId(params.get("seq"));
  const me = useCurrentUser();
  const detail = useConversation(id ?? 0, { enabled: id !== null });
  usePageTitle(id === null ? "Not found" : `Conversation #${id}`);

  if (id === null) return <NotFoundPage signedIn />;
  const c = detail.data?.conversation;
  if (c !== undefined && me.role === "agent" && c.agent_id === me.id) {
    return <Navigate to={`/inbox/${id}${search}`} replace />;
  }
  if (c !== undefined && me.role === "teamleader" && c.assignee_id === me.id) {
    return <Navigate to={`/workspace/${id}${search}`} replace />;
  }
  return (
    <section aria-labelledby="page-title" className="conversation-page">
      <div className="page-head">
        <h1 id="page-title">Conversation #{id}</h1>
        {me.role !== "agent" && (
          <Link to="/history" className="button secondary">
            Back to history
          </Link>
        )}
      </div>
      <ConversationView id={id} around={around} />
    </section>
  );
}
