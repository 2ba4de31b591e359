import type { ListFilter } from "../api/conversations";
import { hourSpan, weekdayName } from "./reports/format";

function formatter(tz: string | undefined, options: Intl.DateTimeFormatOptions) {
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: tz });
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

/** Whether an instant is a local midnight in `tz`: the bound of a whole day. */
function isMidnight(iso: string, tz: string | undefined): boolean {
  const parts = formatter(tz, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .formatToParts(new Date(iso))
    .filter((p) => p.type === "hour" || p.type === "minute");
  return parts.every((p) => Number(p.value) === 0);
}

/** The creation bounds in words: whole local days as dates ("Mar 24 – Mar 30, 2025",
 * the end inclusive), other bounds as times. */
function rangeText(from: string | undefined, to: string | undefined, tz: string | undefined) {
  const time = formatter(tz, { dateStyle: "medium", timeStyle: "short" });
  const at = (iso: string) => time.format(new Date(iso));
  if (from && to && isMidnight(from, tz) && isMidnight(to, tz)) {
    const days = formatter(tz, { dateStyle: "medium" });
    // The day before the exclusive end: an hour before its midnight is still that day.
    const last = new Date(new Date(to).getTime() - 3_600_000);
    const first = days.format(new Date(from));
    const end = days.format(last);
    if (first === end) return `created on ${first}`;
    return `created ${days.formatRange(new Date(from), last)}`;
  }
  if (from && to) return `created from ${at(from)} to ${at(to)}`;
  if (from) return `created from ${at(from)}`;
  if (to) return `created before ${at(to)}`;
  return null;
}

/** A report's selection in words: "Created Mar 24 – 30, 2025, on Mondays, between 09:00
 * and 10:00 (Europe/Paris time)". */
export function selectionText(filter: ListFilter): string | null {
  const { createdFrom, createdTo, weekday, hour, tz } = filter;
  if (!createdFrom && !createdTo && weekday === undefined && hour === undefined) return null;
  const local = weekday !== undefined || hour !== undefined;
  const range = rangeText(createdFrom, createdTo, local ? tz : undefined);
  const parts = range === null ? [] : [range];
  if (weekday !== undefined) parts.push(`on ${weekdayName(weekday)}s`);
  if (hour !== undefined) parts.push(`between ${hourSpan(hour).replace("–", " and ")}`);
  const zone = local ? ` (${(tz ?? "UTC").replaceAll("_", " ")} time)` : "";
  const text = parts.join(", ") + zone;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

interface Props {
  filter: ListFilter;
  onClear: () => void;
}

/** The exact creation times the History is narrowed to, as a report's drill-down sets
 * them, with a way to drop them. (The date fields show whole local days only.) */
export function HistorySelection({ filter, onClear }: Props) {
  const text = selectionText(filter);
  if (text === null) return null;
  return (
    <div className="selection-note" role="group" aria-label="Time filter">
      <p data-testid="time-filter">{text}.</p>
      <button type="button" className="button secondary small" onClick={onClear}>
        Clear time filter
      </button>
    </div>
  );
}
