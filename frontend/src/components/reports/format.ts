// How report figures read on the page: durations in words, shares as percentages.

/** Seconds as a person says them: "12 s", "4 min 12 s", "2 h 5 min", "3 d 4 h"; "—" for none. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return secs > 0 ? `${minutes} min ${secs} s` : `${minutes} min`;
}

/** A chart axis's tick: one unit, rounded ("45 s", "4 min", "1.5 h"). */
export function formatTick(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round((seconds / 60) * 10) / 10} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/** A share (0..1) as a percentage with at most one decimal; "—" for none. */
export function formatShare(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return "—";
  const percent = Math.round(share * 1000) / 10;
  return `${percent}%`;
}

/** ISO weekdays, 1 = Monday. */
export const WEEKDAYS = [
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
  "Sunday",
] as const;

export function weekdayName(weekday: number): string {
  return WEEKDAYS[weekday - 1] ?? `Day ${weekday}`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** An hour of the day as the span it covers: "09:00–10:00". */
export function hourSpan(hour: number): string {
  return `${pad(hour)}:00–${pad((hour + 1) % 24)}:00`;
}

/** A local date (YYYY-MM-DD) as "Mon 3 Mar", read as a calendar day whatever the zone. */
export function shortDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return day;
  return new Intl.DateTimeFormat(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(date);
}
