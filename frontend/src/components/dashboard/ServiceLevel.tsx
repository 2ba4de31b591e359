import type { ServiceLevelWindow } from "../../api/monitoring";
import { formatDuration, formatShare } from "../reports/format";
import { DashCard } from "./DashCard";

const WINDOW_LABELS: Record<ServiceLevelWindow["window"], string> = {
  "15m": "Last 15 min",
  "4h": "Last 4 h",
  today: "Today",
};

/** The share of requests assigned within each threshold, per window. */
export function ServiceLevel({ windows }: { windows: ServiceLevelWindow[] }) {
  const thresholds = windows[0]?.splits.map((s) => s.threshold_seconds) ?? [];
  const title = "Service level";
  return (
    <DashCard
      title={title}
      description="Share of requests assigned within each wait, of those whose outcome is known."
    >
      <div className="table-wrap">
        <table aria-label={title}>
          <thead>
            <tr>
              <th scope="col">Window</th>
              {thresholds.map((t) => (
                <th key={t} scope="col">
                  Within {formatDuration(t)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {windows.map((w) => (
              <tr key={w.window}>
                <th scope="row">{WINDOW_LABELS[w.window]}</th>
                {w.splits.map((s) => (
                  <td key={s.threshold_seconds}>
                    <span className="dash-share">{formatShare(s.share)}</span>
                    <span className="tile-detail">
                      {" "}
                      {s.within} of {s.total}
                    </span>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </DashCard>
  );
}
