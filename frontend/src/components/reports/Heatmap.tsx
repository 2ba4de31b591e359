import { Link, useNavigate } from "react-router";
import type { HeatCell, ReportScope } from "../../api/reports";
import { hourSpan, weekdayName, WEEKDAYS } from "./format";
import { historyLink } from "./history";
import { ReportCard } from "./ReportCard";

const TITLE = "Peak hours";
const HOURS = Array.from({ length: 24 }, (_, hour) => hour);
const LEVELS = 4;

function requestsText(n: number): string {
  return `${n} ${n === 1 ? "request" : "requests"}`;
}

/** Requests by local weekday and hour of their creation: a grid of cells, darker for more;
 * a cell with requests is a button that lists them in the History. */
export function Heatmap({ cells, scope }: { cells: HeatCell[]; scope: ReportScope }) {
  const navigate = useNavigate();
  const at = new Map(cells.map((c) => [`${c.weekday}-${c.hour}`, c]));
  const most = Math.max(0, ...cells.map((c) => c.requests));
  const level = (n: number) => (n === 0 ? 0 : Math.max(1, Math.ceil((n / most) * LEVELS)));
  const busy = cells.filter((c) => c.requests > 0);

  return (
    <ReportCard
      title={TITLE}
      table="heatmap"
      scope={scope}
      description={
        `Requests by weekday and hour of the day (${scope.tz}). ` +
        "Click a cell to list its conversations."
      }
      chart={
        <div className="heatmap-wrap">
          <table className="heatmap" aria-label="Requests by weekday and hour">
            <thead>
              <tr>
                <td />
                {HOURS.map((hour) => (
                  <th key={hour} scope="col" abbr={hourSpan(hour)}>
                    {hour}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {WEEKDAYS.map((name, i) => (
                <tr key={name}>
                  <th scope="row" abbr={name}>
                    {name.slice(0, 3)}
                  </th>
                  {HOURS.map((hour) => {
                    const cell = at.get(`${i + 1}-${hour}`);
                    const n = cell?.requests ?? 0;
                    return (
                      <td key={hour}>
                        {cell && n > 0 ? (
                          <button
                            type="button"
                            className={`heat-cell heat-${level(n)}`}
                            aria-label={`${name} ${hourSpan(hour)}: ${requestsText(n)}`}
                            title={`${name} ${hourSpan(hour)}: ${requestsText(n)}`}
                            onClick={() => void navigate(historyLink(cell.history_query))}
                          >
                            {n}
                          </button>
                        ) : (
                          <span className="heat-cell heat-0">
                            <span className="visually-hidden">0</span>
                          </span>
                        )}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    >
      {busy.length === 0 ? (
        <p className="empty">No requests in this range.</p>
      ) : (
        <div className="table-wrap">
          <table aria-label="Requests by weekday and hour, busy hours only">
            <thead>
              <tr>
                <th scope="col">Weekday</th>
                <th scope="col">Hour</th>
                <th scope="col">Requests</th>
              </tr>
            </thead>
            <tbody>
              {busy.map((cell) => (
                <tr key={`${cell.weekday}-${cell.hour}`}>
                  <th scope="row">{weekdayName(cell.weekday)}</th>
                  <td>{hourSpan(cell.hour)}</td>
                  <td>
                    <Link to={historyLink(cell.history_query)}>{cell.requests}</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </ReportCard>
  );
}
