// The History's filters as its URL holds them, so that a search can be bookmarked and
// shared. The page's own controls write `topic`, `agent`, `leader`, `from` and `to` (local
// days); a report's drill-down links carry the list API's own query instead (`topic_id`,
// `no_topic`, `created_from`, ..., `tz`, `weekday`, `hour`: a row's `history_query`), which
// is read here as well, so that the History lists exactly the conversations the row counts.

import type { ListFilter } from "../api/conversations";
import { CONVERSATION_STATUSES, type ConversationStatus } from "../api/types";
import { parseId } from "./params";

/** The URL names a control replaces when it is set: the same filter under the API's name. */
export const REPLACES: Record<string, readonly string[]> = {
  topic: ["topic_id", "no_topic"],
  agent: ["agent_id"],
  leader: ["leader_id"],
  from: ["created_from"],
  to: ["created_to"],
};

/** A report's exact selection: the creation bounds as instants and a weekday and hour. */
export const SELECTION_PARAMS = ["created_from", "created_to", "tz", "weekday", "hour"] as const;

/** A filter's value under the page's own name, or else under the API's. */
export function either(params: URLSearchParams, name: "topic" | "agent" | "leader"): string | null {
  return params.get(name) ?? params.get(`${name}_id`);
}

/**
 * A day picked in a date field as a bound on the creation time: the start of
 * that local day, or for the end (exclusive) the start of the next one.
 */
function dayBound(day: string | null, end: boolean): string | undefined {
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const date = new Date(`${day}T00:00:00`);
  if (Number.isNaN(date.getTime())) return undefined;
  if (end) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

/** An instant as the server wrote it (ISO 8601), passed on as it is. */
function instant(value: string | null): string | undefined {
  if (!value || Number.isNaN(Date.parse(value))) return undefined;
  return value;
}

function whole(value: string | null, min: number, max: number): number | undefined {
  if (value === null || !/^\d{1,2}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

export function readFilter(params: URLSearchParams): ListFilter {
  const sort = params.get("sort");
  return {
    statuses: params
      .getAll("status")
      .filter((s): s is ConversationStatus => CONVERSATION_STATUSES.includes(s as never)),
    topicId: parseId(either(params, "topic")) ?? undefined,
    noTopic: params.get("no_topic") === "true",
    agentId: parseId(either(params, "agent")) ?? undefined,
    leaderId: parseId(either(params, "leader")) ?? undefined,
    createdFrom: dayBound(params.get("from"), false) ?? instant(params.get("created_from")),
    createdTo: dayBound(params.get("to"), true) ?? instant(params.get("created_to")),
    tz: params.get("tz") || undefined,
    weekday: whole(params.get("weekday"), 1, 7),
    hour: whole(params.get("hour"), 0, 23),
    sort: sort === "newest" || sort === "oldest" ? sort : "activity",
  };
}
