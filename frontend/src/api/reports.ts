import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ApiError, api } from "./client";
import type * as Api from "./openapi.gen";

// The report's shapes, as the server's OpenAPI document names them.
export type Report = Api.Report;
export type ReportPeriod = Api.ReportPeriod;
export type SummaryRow = Api.SummaryRow;
export type OutcomeRow = Api.OutcomeRow;
export type FirstResponseRow = Api.FirstResponseRow;
export type LeaderRow = Api.LeaderRow;
export type TopicRow = Api.TopicRow;
export type HeatCell = Api.HeatCell;
export type DayRow = Api.DayRow;
export type ReportOutcome = OutcomeRow["outcome"];
export type ResponseBucket = FirstResponseRow["bucket"];

/** What a report is of: local dates `from`..`to` (inclusive) in `tz`, and its filters. */
export interface ReportScope {
  from: string;
  to: string;
  tz: string;
  topicId?: number | undefined;
  leaderId?: number | undefined;
  agentId?: number | undefined;
}

/** Each table the server also gives on its own, as JSON and as CSV. */
export type ReportTable =
  | "summary"
  | "outcomes"
  | "first-response"
  | "leaders"
  | "topics"
  | "heatmap"
  | "daily";

/** The scope as the report routes' query (the reports page's URL uses the same names). */
export function reportParams(scope: ReportScope): URLSearchParams {
  const params = new URLSearchParams({ from: scope.from, to: scope.to, tz: scope.tz });
  if (scope.topicId !== undefined) params.set("topic_id", String(scope.topicId));
  if (scope.leaderId !== undefined) params.set("leader_id", String(scope.leaderId));
  if (scope.agentId !== undefined) params.set("agent_id", String(scope.agentId));
  return params;
}

/** The server's CSV of one table, with the same figures the page shows. */
export function csvUrl(table: ReportTable, scope: ReportScope): string {
  return `/api/reports/${table}.csv?${reportParams(scope).toString()}`;
}

export const reportsKey = ["reports"] as const;

/** The whole report: every table at once, as the page shows it. */
export function useReport(scope: ReportScope) {
  return useQuery({
    queryKey: [...reportsKey, scope],
    queryFn: () => api.get<Report>(`/api/reports?${reportParams(scope).toString()}`),
    // A report of past days changes little; each one is a costly read on the server.
    staleTime: 60_000,
    // The last report stays on screen while the next one (other dates, filters) comes.
    placeholderData: keepPreviousData,
    refetchOnWindowFocus: false,
  });
}

/** The server's refusal of a report's scope, in words for the person who chose it. */
export function scopeProblem(error: unknown, scope: ReportScope): string | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  switch (error.code) {
    case "range_reversed":
      return (
        `The range starts on ${scope.from}, after it ends on ${scope.to}. ` +
        "Pick a start date on or before the end date."
      );
    case "range_too_long":
      return "A report covers at most a year (366 days). Pick a shorter range.";
    case "unknown_time_zone":
      return `“${scope.tz}” is not a time zone this server knows. Pick one from the list.`;
    case "unknown_filter":
      return (
        "This link asks for a filter that reports do not have. " +
        "Clear the filters and choose again."
      );
    default:
      return `The report cannot be made for these choices: ${error.message}`;
  }
}
