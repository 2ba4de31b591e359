import { useEffect } from "react";
import { useSearchParams } from "react-router";
import {
  reportParams,
  scopeProblem,
  useReport,
  type Report,
  type ReportScope,
} from "../api/reports";
import { LoadError } from "../components/LoadError";
import { DailyChart } from "../components/reports/DailyChart";
import { FirstResponseChart } from "../components/reports/FirstResponseChart";
import { shortDay } from "../components/reports/format";
import { Heatmap } from "../components/reports/Heatmap";
import { LeaderTable } from "../components/reports/LeaderTable";
import { ReportFilters } from "../components/reports/ReportFilters";
import { namesPeriod, readScope, type ScopeParam } from "../components/reports/scope";
import { OutcomeTiles, SummaryTiles } from "../components/reports/SummaryTiles";
import { TopicTable } from "../components/reports/TopicTable";
import { usePageTitle } from "../components/usePageTitle";
import "../components/reports/reports.css";

/** The business figures of a date range (admins): every table of the report, each with
 * its CSV, and the charts that open the History of what they count. */
export default function ReportsPage() {
  usePageTitle("Reports");
  const [params, setParams] = useSearchParams();
  const scope = readScope(params);
  const report = useReport(scope);

  // The URL always names the period, so that a copied link shows the same report.
  const complete = namesPeriod(params);
  useEffect(() => {
    if (!complete) setParams(reportParams(readScope(params)), { replace: true });
  }, [complete, params, setParams]);

  const set = (name: ScopeParam, value: string | null) =>
    setParams((current) => {
      const next = reportParams(readScope(current));
      if (value) next.set(name, value);
      else next.delete(name);
      return next;
    });
  const clear = () =>
    setParams((current) => {
      const { from, to, tz } = readScope(current);
      return reportParams({ from, to, tz });
    });

  const problem = report.isError ? scopeProblem(report.error, scope) : null;
  return (
    <section aria-labelledby="page-title" className="reports stack">
      <div className="page-head">
        <h1 id="page-title">Reports</h1>
        {report.data && !report.isError && <PeriodNote report={report.data} />}
      </div>
      <ReportFilters scope={scope} set={set} clear={clear} />
      {problem !== null ? (
        <div role="alert" className="alert">
          <p>{problem}</p>
        </div>
      ) : report.isError ? (
        <LoadError what="the report" error={report.error} onRetry={() => void report.refetch()} />
      ) : report.data === undefined ? (
        <p className="muted">Loading the report…</p>
      ) : (
        <ReportBody report={report.data} scope={scope} busy={report.isPlaceholderData} />
      )}
    </section>
  );
}

function PeriodNote({ report }: { report: Report }) {
  const { first_day, last_day, tz } = report.period;
  return (
    <p className="muted" data-testid="report-period">
      {shortDay(first_day)} – {shortDay(last_day)} ({tz.replaceAll("_", " ")})
    </p>
  );
}

interface BodyProps {
  report: Report;
  scope: ReportScope;
  busy: boolean;
}

function ReportBody({ report, scope, busy }: BodyProps) {
  return (
    <div className="report-body stack" aria-busy={busy}>
      <div className="report-pair">
        <SummaryTiles summary={report.summary} scope={scope} />
        <OutcomeTiles outcomes={report.outcomes} scope={scope} />
      </div>
      <DailyChart rows={report.daily} scope={scope} />
      <Heatmap cells={report.heatmap} scope={scope} />
      <div className="report-pair">
        <FirstResponseChart rows={report.first_response} scope={scope} />
        <TopicTable rows={report.topics} scope={scope} />
      </div>
      <LeaderTable rows={report.leaders} scope={scope} />
    </div>
  );
}
