import type { ComponentProps } from "react";
import { ChartCard } from "../ChartCard";

/** One part of the dashboard: a titled card, with a chart and its table view or content. */
export function DashCard({
  className,
  ...card
}: Omit<ComponentProps<typeof ChartCard>, "actions">) {
  return <ChartCard {...card} className={`dash-card ${className ?? ""}`} />;
}
