import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { SeriesPoint } from "../../api/monitoring";
import { COLORS } from "../reports/colors";
import { formatDuration, formatTick } from "../reports/format";
import { DashCard } from "./DashCard";

const MARGIN = { top: 8, right: 8, bottom: 0, left: 0 };
const minuteFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** A minute's start as the local clock shows it: "14:05". */
function minute(value: string): string {
  return minuteFormat.format(new Date(value));
}

/** Requests created and assigned in each minute of the last hour. */
export function ThroughputChart({ series }: { series: SeriesPoint[] }) {
  const title = "Throughput, last hour";
  const description = "Requests created and assigned per minute over the last hour.";
  return (
    <DashCard
      title={title}
      description={description}
      chart={
        <ResponsiveContainer width="100%" height={220}>
          <BarChart data={series} title={title} desc={description} margin={MARGIN}>
            <CartesianGrid stroke={COLORS.grid} vertical={false} />
            <XAxis dataKey="minute" tickFormatter={minute} stroke={COLORS.text} minTickGap={24} />
            <YAxis allowDecimals={false} stroke={COLORS.text} width={32} />
            <Tooltip labelFormatter={(value) => minute(String(value))} />
            <Legend itemSorter={null} />
            <Bar
              dataKey="created"
              name="Created"
              fill={COLORS.requests}
              isAnimationActive={false}
            />
            <Bar
              dataKey="assigned"
              name="Assigned"
              fill={COLORS.assigned}
              isAnimationActive={false}
            />
          </BarChart>
        </ResponsiveContainer>
      }
    >
      <MinuteTable
        title={title}
        series={series}
        columns={[
          ["Created", (p) => String(p.created)],
          ["Assigned", (p) => String(p.assigned)],
        ]}
      />
    </DashCard>
  );
}

/** The average wait of the requests first assigned in each minute of the last hour. */
export function WaitChart({ series }: { series: SeriesPoint[] }) {
  const title = "Wait time, last hour";
  const description =
    "Average time from creation to first assignment, of the requests assigned each minute.";
  return (
    <DashCard
      title={title}
      description={description}
      chart={
        <ResponsiveContainer width="100%" height={220}>
          <LineChart data={series} title={title} desc={description} margin={MARGIN}>
            <CartesianGrid stroke={COLORS.grid} vertical={false} />
            <XAxis dataKey="minute" tickFormatter={minute} stroke={COLORS.text} minTickGap={24} />
            <YAxis
              stroke={COLORS.wait}
              tickFormatter={formatTick}
              width={56}
              domain={[0, "auto"]}
            />
            <Tooltip
              labelFormatter={(value) => minute(String(value))}
              formatter={(value) => formatDuration(Number(value))}
            />
            <Line
              dataKey="avg_wait_seconds"
              name="Average wait"
              stroke={COLORS.wait}
              strokeWidth={2}
              connectNulls
              isAnimationActive={false}
            />
          </LineChart>
        </ResponsiveContainer>
      }
    >
      <MinuteTable
        title={title}
        series={series}
        columns={[["Average wait", (p) => formatDuration(p.avg_wait_seconds)]]}
      />
    </DashCard>
  );
}

interface TableProps {
  title: string;
  series: SeriesPoint[];
  columns: [string, (point: SeriesPoint) => string][];
}

/** A chart's figures, minute by minute, newest first. */
function MinuteTable({ title, series, columns }: TableProps) {
  return (
    <div className="table-wrap dash-minutes">
      <table aria-label={title}>
        <thead>
          <tr>
            <th scope="col">Minute</th>
            {columns.map(([name]) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...series].reverse().map((point) => (
            <tr key={point.minute}>
              <th scope="row">{minute(point.minute)}</th>
              {columns.map(([name, value]) => (
                <td key={name}>{value(point)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
