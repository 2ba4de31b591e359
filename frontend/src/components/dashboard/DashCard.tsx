import { useId, type ReactNode } from "react";

interface Props {
  title: string;
  /** One sentence on what it shows, read out with the chart. */
  description?: string;
  /** A chart; its figures are then `children`, as a table view under it. */
  chart?: ReactNode;
  children: ReactNode;
  className?: string;
}

/** One part of the dashboard: a titled card, with a chart and its table view or content. */
export function DashCard({ title, description, chart, children, className }: Props) {
  const id = useId();
  return (
    <section className={`card dash-card ${className ?? ""}`} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {description && (
        <p className="hint" id={`${id}-desc`}>
          {description}
        </p>
      )}
      {chart === undefined ? (
        children
      ) : (
        <>
          <figure
            className="chart"
            aria-label={title}
            aria-describedby={description ? `${id}-desc` : undefined}
          >
            {chart}
          </figure>
          <details className="table-view">
            <summary>Table view: {title.toLowerCase()}</summary>
            {children}
          </details>
        </>
      )}
    </section>
  );
}
