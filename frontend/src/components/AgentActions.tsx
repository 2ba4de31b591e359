import { useNavigate } from "react-router";
import { ApiError } from "../api/client";
import { useAgentAction } from "../api/conversations";
import type { Conversation } from "../api/types";
import { FormError } from "./FormError";

/** What an agent can do with their own request in its current state. */
export function AgentActions({ conversation }: { conversation: Conversation }) {
  const withdraw = useAgentAction("withdraw");
  const reopen = useAgentAction("reopen");
  const navigate = useNavigate();
  const { id, status } = conversation;

  if (status === "queued") {
    return (
      <div className="agent-actions">
        <button
          type="button"
          className="button danger"
          disabled={withdraw.isPending}
          aria-busy={withdraw.isPending}
          onClick={() => {
            if (window.confirm(`Withdraw request #${id}? No team leader will pick it up.`)) {
              withdraw.mutate(id);
            }
          }}
        >
          Withdraw request
        </button>
        <FormError error={withdraw.error} />
      </div>
    );
  }
  if (status === "pending" || status === "solved") {
    return (
      <div className="agent-actions">
        <button
          type="button"
          className="button secondary"
          disabled={reopen.isPending}
          aria-busy={reopen.isPending}
          onClick={() => reopen.mutate(id)}
        >
          Reopen
        </button>
        <FormError error={reopen.error} />
        {isClosedError(reopen.error) && <NewRequestButton onClick={() => void navigate("/inbox")} />}
      </div>
    );
  }
  return null;
}

function isClosedError(error: unknown): boolean {
  return error instanceof ApiError && error.code === "conversation_closed";
}

export function NewRequestButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" className="button primary small" onClick={onClick}>
      New request
    </button>
  );
}
