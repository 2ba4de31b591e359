import { useId, type ReactNode } from "react";

interface Props {
  title: string;
  /** One sentence on what it shows, read out with the chart. */
  description?: string;
  /** The chart itself; a card without one shows only `children`. */
  chart?: ReactNode;
  /** The same figures as a table: the chart's table view, or the card's content. */
  children: ReactNode;
  /** Beside the title, e.g. a download of the figures. */
  actions?: ReactNode;
  className?: string;
}

/** A titled card: a chart with its figures as a table view under it, or the content alone. */
export function ChartCard({ title, description, chart, children, actions, className }: Props) {
  const id = useId();
  const heading = <h2 id={`${id}-title`}>{title}</h2>;
  return (
    <section className={`card ${className ?? ""}`} aria-labelledby={`${id}-title`}>
      {actions === undefined ? (
        heading
      ) : (
        <div className="section-head">
          {heading}
          {actions}
        </div>
      )}
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
