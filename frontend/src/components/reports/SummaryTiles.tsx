import type { OutcomeRow, ReportOutcome, ReportScope, SummaryRow } from "../../api/reports";
import { ReportCard } from "./ReportCard";
import { formatDuration, formatShare } from "./format";

const OUTCOME_LABELS: Record<ReportOutcome, string> = {
  solved: "Solved",
  pending: "Pending",
  withdrawn: "Withdrawn",
  closed: "Closed",
  transferred: "Transferred",
  reopened: "Reopened",
};

export interface Tile {
  label: string;
  value: string;
  detail?: string;
}

export function Tiles({ label, tiles }: { label: string; tiles: Tile[] }) {
  return (
    <dl className="tiles" aria-label={label}>
      {tiles.map((tile) => (
        <div key={tile.label} className="tile" data-testid={`tile ${tile.label}`}>
          <dt>{tile.label}</dt>
          <dd>
            <span className="tile-value">{tile.value}</span>
            {tile.detail && <span className="tile-detail">{tile.detail}</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Requests, wait, first response and handle time of the whole range. */
export function SummaryTiles({ summary, scope }: { summary: SummaryRow; scope: ReportScope }) {
  return (
    <ReportCard title="Summary" table="summary" scope={scope}>
      <Tiles
        label="Summary"
        tiles={[
          {
            label: "Requests",
            value: String(summary.requests),
            detail: `${summary.assigned} assigned`,
          },
          { label: "Average wait", value: formatDuration(summary.wait_avg_seconds) },
          { label: "Median wait", value: formatDuration(summary.wait_median_seconds) },
          { label: "90th percentile wait", value: formatDuration(summary.wait_p90_seconds) },
          {
            label: "Average first response",
            value: formatDuration(summary.first_response_avg_seconds),
          },
          {
            label: "Average handle time",
            value: formatDuration(summary.handle_avg_seconds),
            detail: `median ${formatDuration(summary.handle_median_seconds)}`,
          },
        ]}
      />
    </ReportCard>
  );
}

/** The share of the requests that ever were solved, pending, withdrawn, ... */
export function OutcomeTiles({ outcomes, scope }: { outcomes: OutcomeRow[]; scope: ReportScope }) {
  return (
    <ReportCard title="Outcomes" table="outcomes" scope={scope}>
      <Tiles
        label="Outcomes"
        tiles={outcomes.map((row) => ({
          label: OUTCOME_LABELS[row.outcome],
          value: formatShare(row.rate),
          detail: `${row.conversations} conversation${row.conversations === 1 ? "" : "s"}`,
        }))}
      />
    </ReportCard>
  );
}
