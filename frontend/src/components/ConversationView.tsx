import { useNavigate } from "react-router";
import { useCurrentUser } from "../api/auth";
import { useConversation } from "../api/conversations";
import type { Conversation, User } from "../api/types";
import type { Outgoing } from "../realtime/outbox";
import { AgentActions, NewRequestButton } from "./AgentActions";
import { ChatView } from "./ChatView";
import { ConversationPanel } from "./ConversationPanel";
import { LoadError } from "./LoadError";
import { QueueStanding } from "./QueueStanding";
import { SubmitAsForm } from "./SubmitAsForm";
import { TransferDialog } from "./TransferDialog";

interface Props {
  id: number;
  /** A message to open at and highlight (a search hit). */
  around: number | null;
  /** The leader handed it on (submitted or transferred): say so, the page moves on. */
  onHandedOff?: (text: string) => void;
}

/** A conversation with everything the viewer may do: actions by role, then the chat. */
export function ConversationView({ id, around, onHandedOff }: Props) {
  const me = useCurrentUser();
  const detail = useConversation(id);
  const navigate = useNavigate();

  if (detail.isPending) return <p className="muted">Loading conversation #{id}…</p>;
  if (detail.isError) {
    return (
      <LoadError
        what={`conversation #${id}`}
        error={detail.error}
        onRetry={() => void detail.refetch()}
      />
    );
  }
  const { conversation, queue_position, standing } = detail.data;
  const c = conversation;
  const isAgent = c.agent_id === me.id;
  const isAssignee = c.assignee_id === me.id;
  // A leader writes while it is theirs; once submitted, the agent's next message brings it back.
  const canWrite = isAgent || me.role === "admin" || (isAssignee && c.status === "assigned");
  // A new request carries the unsent text over, so nothing typed is lost.
  const newRequest = (draft?: string) =>
    void navigate("/inbox", { state: draft ? { draft } : undefined });

  let actions = null;
  if (isAssignee && c.status === "assigned") {
    actions = (
      <div className="leader-actions">
        <SubmitAsForm
          key={c.id}
          conversation={c}
          onSubmitted={(done) =>
            onHandedOff?.(`Conversation #${done.id} submitted as ${done.status}.`)
          }
        />
        <div className="transfer">
          <TransferDialog
            conversation={c}
            onTransferred={(moved, to) =>
              onHandedOff?.(
                to === null
                  ? `Conversation #${moved.id} went back to the queue.`
                  : `Conversation #${moved.id} transferred to ${to}.`,
              )
            }
          />
        </div>
      </div>
    );
  } else if (isAgent) {
    actions = <AgentActions conversation={c} />;
  }

  return (
    <ConversationPanel
      conversation={c}
      queuePosition={queue_position}
      standing={isAgent && standing ? <QueueStanding standing={standing} /> : null}
      actions={actions}
    >
      <ChatView
        key={`${c.id}:${around ?? ""}`}
        conversation={c}
        me={me.id}
        canWrite={canWrite}
        canned={canWrite && !isAgent && me.role !== "agent"}
        around={around}
        composerNote={composerNote(c, me, isAgent)}
        readOnlyNote={readOnlyNote(c, isAgent, () => newRequest())}
        errorAction={(item: Outgoing) =>
          isAgent && item.error?.code === "conversation_closed" ? (
            <NewRequestButton onClick={() => newRequest(item.body)} />
          ) : null
        }
      />
    </ConversationPanel>
  );
}

function composerNote(c: Conversation, me: User, isAgent: boolean): string | null {
  if (isAgent) {
    switch (c.status) {
      case "queued":
        return "A team leader will answer here. You can add details meanwhile.";
      case "pending":
        return "This request is pending. Writing a message sends it back to the queue.";
      case "solved":
        return "This request is solved. Writing a message reopens it and sends it back to the queue (possible for a while after it was solved).";
      default:
        return null;
    }
  }
  if (me.role === "admin" && c.assignee_id !== me.id) {
    return "You are writing as an admin: the agent and the team leader see your message.";
  }
  return null;
}

function readOnlyNote(c: Conversation, isAgent: boolean, newRequest: () => void) {
  if (isAgent && (c.status === "closed" || c.status === "cancelled")) {
    return (
      <div className="closed-note">
        <p>
          {c.status === "closed"
            ? "This conversation is closed; open a new request."
            : "You withdrew this request; open a new request if you still need help."}
        </p>
        <NewRequestButton onClick={newRequest} />
      </div>
    );
  }
  if (c.status === "closed" || c.status === "cancelled") {
    return <p className="muted">This conversation is over; it can only be read.</p>;
  }
  if (c.status === "pending" || c.status === "solved") {
    return (
      <p className="muted">
        This conversation is {c.status}. If the agent writes again it goes back to the queue.
      </p>
    );
  }
  return (
    <p className="muted">
      You can read this conversation; only its agent and its team leader write in it.
    </p>
  );
}
