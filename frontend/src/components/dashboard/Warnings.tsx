import type { Overview } from "../../api/monitoring";

/** What needs a supervisor now: a request waiting long, or requests and nobody online. */
export function Warnings({ warnings }: { warnings: Overview["warnings"] }) {
  if (warnings.length === 0) return null;
  return (
    <div role="alert" className="alert dash-warnings" aria-label="Warnings">
      <ul>
        {warnings.map((w) => (
          <li key={`${w.code}-${w.conversation_id ?? ""}`} data-code={w.code}>
            {w.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
