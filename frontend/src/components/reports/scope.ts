// The report's scope as the reports page's URL holds it, so that a report can be shared.
// The URL uses the report API's own names: from, to, tz, topic_id, leader_id, agent_id.

import type { ReportScope } from "../../api/reports";
import { parseId } from "../../routes/params";

export const SCOPE_PARAMS = ["from", "to", "tz", "topic_id", "leader_id", "agent_id"] as const;
export type ScopeParam = (typeof SCOPE_PARAMS)[number];

/** The days a report covers when the URL names none: the last week, today included. */
export const DEFAULT_DAYS = 7;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The viewer's IANA time zone, as their browser knows it. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** Today's date (YYYY-MM-DD) in `tz`; in the viewer's zone when `tz` is unknown here. */
export function today(tz: string, now = new Date()): string {
  const format = (timeZone: string) =>
    new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).format(now);
  try {
    return format(tz);
  } catch {
    return format(viewerZone());
  }
}

/** A calendar date `days` later (earlier when negative). */
export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/** The scope the URL names, with the default for what it leaves out. Dates that are not
 * dates are kept as they are, for the server to refuse with its own words. */
export function readScope(params: URLSearchParams): ReportScope {
  const tz = params.get("tz") || viewerZone();
  const to = params.get("to") || today(tz);
  const from = params.get("from") || addDays(DAY.test(to) ? to : today(tz), 1 - DEFAULT_DAYS);
  return {
    from,
    to,
    tz,
    topicId: parseId(params.get("topic_id")) ?? undefined,
    leaderId: parseId(params.get("leader_id")) ?? undefined,
    agentId: parseId(params.get("agent_id")) ?? undefined,
  };
}

/** Whether the URL already names the whole period (otherwise the page writes it in). */
export function namesPeriod(params: URLSearchParams): boolean {
  return ["from", "to", "tz"].every((name) => params.get(name));
}

/** Every IANA zone the browser knows, the viewer's own and UTC among them. */
export function timeZones(current: string): string[] {
  const known =
    typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([viewerZone(), "UTC", current, ...known])].sort((a, b) => a.localeCompare(b));
}
