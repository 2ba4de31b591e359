import { useParams, useSearchParams } from "react-router";
import { ConversationView } from "../components/ConversationView";
import { NewRequestForm } from "../components/NewRequestForm";
import { NotificationToggle } from "../components/NotificationToggle";
import { RequestList } from "../components/RequestList";
import { parseId } from "./params";

/** The agent's requests beside the one open (or the form for a new one). */
export function InboxPage() {
  const { conversationId } = useParams();
  const [params] = useSearchParams();
  const id = parseId(conversationId);
  const around = parseId(params.get("seq") ?? undefined);
  return (
    <section aria-labelledby="page-title" className="inbox fills-window">
      <div className="page-head">
        <h1 id="page-title">Inbox</h1>
        <div className="page-tools">
          <NotificationToggle />
        </div>
      </div>
      <div className="inbox-grid">
        <div className="inbox-side">
          <RequestList />
        </div>
        <div className="inbox-main">
          {id === null ? <NewRequestForm /> : <ConversationView id={id} around={around} />}
        </div>
      </div>
    </section>
  );
}
