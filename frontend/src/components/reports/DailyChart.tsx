import { Link, useNavigate } from "react-router";
import {
  Bar,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { DayRow, ReportScope } from "../../api/reports";
import { COLORS } from "./colors";
import { formatDuration, formatTick, shortDay } from "./format";
import { historyLink } from "./history";
import { ReportCard } from "./ReportCard";

const TITLE = "Daily trend";
const MARGIN = { top: 8, right: 8, bottom: 0, left: 0 };

/** Requests, assigned and solved per local day as bars, the average wait as a line. */
export function DailyChart({ rows, scope }: { rows: DayRow[]; scope: ReportScope }) {
  const navigate = useNavigate();
  const open = (row: DayRow | undefined) => {
    if (row) void navigate(historyLink(row.history_query));
  };
  const description =
    "Requests, assigned and solved per day (bars, left axis) and the average wait " +
    "(line, right axis). Click a day's bar to list its conversations.";
  return (
    <ReportCard
      title={TITLE}
      table="daily"
      scope={scope}
      description={description}
      chart={
        <ResponsiveContainer width="100%" height={280}>
          <ComposedChart data={rows} title={TITLE} desc={description} margin={MARGIN}>
            <CartesianGrid stroke={COLORS.grid} vertical={false} />
            <XAxis dataKey="day" tickFormatter={shortDay} stroke={COLORS.text} />
            <YAxis yAxisId="count" allowDecimals={false} stroke={COLORS.text} width={40} />
            <YAxis
              yAxisId="wait"
              orientation="right"
              stroke={COLORS.wait}
              tickFormatter={formatTick}
              width={72}
            />
            <Tooltip
              labelFormatter={(day) => shortDay(String(day))}
              formatter={(value, name) =>
                name === "Average wait" ? formatDuration(Number(value)) : String(value)
              }
            />
            <Legend itemSorter={null} />
            {(["requests", "assigned", "solved"] as const).map((key) => (
              <Bar
                key={key}
                yAxisId="count"
                dataKey={key}
                name={key.charAt(0).toUpperCase() + key.slice(1)}
                fill={COLORS[key]}
                isAnimationActive={false}
                className="drill"
                onClick={(item) => open(item.payload as DayRow | undefined)}
              />
            ))}
            <Line
              yAxisId="wait"
              dataKey="wait_avg_seconds"
              name="Average wait"
              stroke={COLORS.wait}
              strokeWidth={2}
              isAnimationActive={false}
            />
          </ComposedChart>
        </ResponsiveContainer>
      }
    >
      <div className="table-wrap">
        <table aria-label={TITLE}>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Requests</th>
              <th scope="col">Assigned</th>
              <th scope="col">Solved</th>
              <th scope="col">Average wait</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.day}>
                <th scope="row">
                  <Link to={historyLink(row.history_query)}>{row.day}</Link>
                </th>
                <td>{row.requests}</td>
                <td>{row.assigned}</td>
                <td>{row.solved}</td>
                <td>{formatDuration(row.wait_avg_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </ReportCard>
  );
}
