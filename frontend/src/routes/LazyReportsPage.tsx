import { lazy, Suspense } from "react";

// The charts library is big; only admins opening the reports load it.
const ReportsPage = lazy(() => import("./ReportsPage"));

export function LazyReportsPage() {
  return (
    <Suspense fallback={<p className="muted">Loading the reports…</p>}>
      <ReportsPage />
    </Suspense>
  );
}
