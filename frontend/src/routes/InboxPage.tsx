import { usePageTitle } from "../components/usePageTitle";

export function InboxPage() {
  usePageTitle("Inbox");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Inbox</h1>
      <p className="empty">
        Your support requests will be listed here. Open a request when you need a team leader's help
        with a customer case.
      </p>
    </section>
  );
}
