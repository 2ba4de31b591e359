import { useOverview } from "../../api/monitoring";
import { LoadError } from "../LoadError";
import { AssignmentWindows } from "./AssignmentWindows";
import { ThroughputChart, WaitChart } from "./HourCharts";
import { LeadersTable } from "./LeadersTable";
import type { Fetched } from "./live";
import { QueueTable } from "./QueueTable";
import { ServiceLevel } from "./ServiceLevel";
import { TotalsTiles } from "./TotalsTiles";
import { useNow } from "./useNow";
import { Warnings } from "./Warnings";
import { WorkersHealth } from "./WorkersHealth";
import "../reports/reports.css";
import "./dashboard.css";

/** The live floor: refetched on every routing change the server announces, never polled. */
export default function Dashboard() {
  const overview = useOverview();
  const now = useNow();
  if (overview.isPending) return <p className="muted">Loading the dashboard…</p>;
  if (overview.isError) {
    return (
      <LoadError
        what="the dashboard"
        error={overview.error}
        onRetry={() => void overview.refetch()}
      />
    );
  }
  const data = overview.data;
  const fetched: Fetched = { serverAt: data.at, localAt: overview.dataUpdatedAt };
  const elapsed = Math.max(now - fetched.localAt, 0) / 1000;
  return (
    <div className="dashboard stack">
      <Warnings warnings={data.warnings} />
      <TotalsTiles overview={data} oldestWait={data.queue.oldest_wait_seconds + elapsed} />
      <QueueTable queue={data.queue} leaders={data.leaders} fetched={fetched} now={now} />
      <LeadersTable leaders={data.leaders} fetched={fetched} now={now} />
      <div className="report-pair">
        <ServiceLevel windows={data.service_level} />
        <AssignmentWindows windows={data.assignments} />
      </div>
      <div className="report-pair">
        <ThroughputChart series={data.series} />
        <WaitChart series={data.series} />
      </div>
      <WorkersHealth workers={data.workers} realtime={data.realtime} />
    </div>
  );
}
