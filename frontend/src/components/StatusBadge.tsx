import { statusLabel } from "../api/types";

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`status-badge status-${status}`}>{statusLabel(status)}</span>
  );
}
