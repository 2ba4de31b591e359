import { NewRequestForm } from "../components/NewRequestForm";
import { RequestList } from "../components/RequestList";
import { usePageTitle } from "../components/usePageTitle";

export function InboxPage() {
  usePageTitle("Inbox");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Inbox</h1>
      <div className="inbox-grid">
        <NewRequestForm />
        <RequestList />
      </div>
    </section>
  );
}
