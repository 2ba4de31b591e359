import { usePageTitle } from "../components/usePageTitle";

export function WorkspacePage() {
  usePageTitle("Workspace");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Workspace</h1>
      <p className="empty">
        Conversations assigned to you will appear here, up to your capacity, while your status is
        online.
      </p>
    </section>
  );
}
