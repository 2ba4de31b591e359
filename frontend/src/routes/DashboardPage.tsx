import { lazy, Suspense } from "react";
import { usePageTitle } from "../components/usePageTitle";

// The charts library is big; only admins opening the dashboard load it.
const Dashboard = lazy(() => import("../components/dashboard/Dashboard"));

/** The supervisor's live view: the queue, every leader's load, routing's health. */
export function DashboardPage() {
  usePageTitle("Dashboard");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Dashboard</h1>
      <Suspense fallback={<p className="muted">Loading the dashboard…</p>}>
        <Dashboard />
      </Suspense>
    </section>
  );
}
