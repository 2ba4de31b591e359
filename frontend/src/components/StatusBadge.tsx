import { CONVERSATION_STATUS_LABELS, type ConversationStatus } from "../api/types";

export function StatusBadge({ status }: { status: ConversationStatus }) {
  return (
    <span className={`status-badge status-${status}`}>{CONVERSATION_STATUS_LABELS[status]}</span>
  );
}
