import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { FirstResponseRow, ReportScope, ResponseBucket } from "../../api/reports";
import { COLORS } from "./colors";
import { formatShare } from "./format";
import { ReportCard } from "./ReportCard";

export const BUCKET_LABELS: Record<ResponseBucket, string> = {
  under_1m: "Under 1 min",
  "1m_5m": "1–5 min",
  "5m_15m": "5–15 min",
  "15m_60m": "15–60 min",
  over_60m: "Over 60 min",
  none: "No response",
};

/** The buckets as the chart's axis names them, short enough to sit side by side. */
const AXIS_LABELS: Record<ResponseBucket, string> = {
  under_1m: "< 1 min",
  "1m_5m": "1–5",
  "5m_15m": "5–15",
  "15m_60m": "15–60",
  over_60m: "> 60 min",
  none: "None",
};

const TITLE = "Time to first response";
const MARGIN = { top: 8, right: 8, bottom: 0, left: 0 };

/** Assigned conversations by the time a leader took to write first, in buckets. */
interface Props {
  rows: FirstResponseRow[];
  scope: ReportScope;
}

export function FirstResponseChart({ rows, scope }: Props) {
  const data = rows.map((row) => ({
    ...row,
    label: BUCKET_LABELS[row.bucket],
    axis: AXIS_LABELS[row.bucket],
  }));
  const description =
    "Assigned conversations by the time from assignment to the team leader's first message.";
  return (
    <ReportCard
      title={TITLE}
      table="first-response"
      scope={scope}
      description={description}
      chart={
        <ResponsiveContainer width="100%" height={240}>
          <BarChart data={data} title={TITLE} desc={description} margin={MARGIN}>
            <CartesianGrid stroke={COLORS.grid} vertical={false} />
            <XAxis dataKey="axis" stroke={COLORS.text} interval={0} />
            <YAxis allowDecimals={false} stroke={COLORS.text} width={40} />
            <Tooltip labelFormatter={(_, items) => String(items[0]?.payload?.label ?? "")} />
            <Bar
              dataKey="conversations"
              name="Conversations"
              fill={COLORS.requests}
              isAnimationActive={false}
            />
          </BarChart>
        </ResponsiveContainer>
      }
    >
      <div className="table-wrap">
        <table aria-label={TITLE}>
          <thead>
            <tr>
              <th scope="col">First response</th>
              <th scope="col">Conversations</th>
              <th scope="col">Share of assigned</th>
            </tr>
          </thead>
          <tbody>
            {data.map((row) => (
              <tr key={row.bucket}>
                <th scope="row">{row.label}</th>
                <td>{row.conversations}</td>
                <td>{formatShare(row.share)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </ReportCard>
  );
}
