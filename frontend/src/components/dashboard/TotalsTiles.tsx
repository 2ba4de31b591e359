import type { Overview } from "../../api/monitoring";
import { formatDuration } from "../reports/format";
import { Tiles } from "../reports/SummaryTiles";

interface Props {
  overview: Overview;
  /** The oldest wait, ticking. */
  oldestWait: number;
}

/** The floor at a glance: who is there and how much waits. */
export function TotalsTiles({ overview, oldestWait }: Props) {
  const { totals, queue } = overview;
  return (
    <Tiles
      label="Now"
      tiles={[
        { label: "Waiting", value: String(queue.length), detail: `${queue.in_flight} assigning` },
        { label: "Oldest wait", value: queue.length > 0 ? formatDuration(oldestWait) : "—" },
        {
          label: "Leaders online",
          value: String(totals.leaders_online),
          detail: `${totals.leaders_away} away`,
        },
        { label: "Free slots", value: String(totals.free_slots) },
        { label: "Agents online", value: String(totals.agents_online) },
      ]}
    />
  );
}
