import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useTransfer, useTransferTargets } from "../api/conversations";
import type { Conversation } from "../api/types";
import { FormError } from "./FormError";
import { LoadError } from "./LoadError";

const QUEUE = "queue";

interface Props {
  conversation: Conversation;
  /** `to` is the leader's name, or null for the queue. Runs even after the dialog has gone. */
  onTransferred: (conversation: Conversation, to: string | null) => void;
}

/** Hands a conversation to another online leader with room, or back to the queue. */
export function TransferDialog({ conversation, onTransferred }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [choice, setChoice] = useState<string>("");
  const [reason, setReason] = useState("");
  const titleId = useId();
  const targets = useTransferTargets(conversation.id, { enabled: open });
  const transfer = useTransfer((moved, { leaderId }) =>
    onTransferred(moved, leaderId === null ? null : (moved.assignee_name ?? "another leader")),
  );

  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    if (open && !el.open) el.showModal();
    if (!open && el.open) el.close();
  }, [open]);

  const show = () => {
    setChoice("");
    setReason("");
    transfer.reset();
    setOpen(true);
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const leaderId = choice === QUEUE ? null : Number(choice);
    transfer.mutate(
      { id: conversation.id, leaderId, reason: reason.trim() || undefined },
      {
        onSuccess: () => setOpen(false),
        // The list was out of date: show who is available now.
        onError: () => void targets.refetch(),
      },
    );
  };

  return (
    <>
      <button type="button" className="button secondary" onClick={show}>
        Transfer…
      </button>
      <dialog
        ref={dialog}
        className="dialog"
        aria-labelledby={titleId}
        onClose={() => setOpen(false)}
      >
        {open && (
          <form method="dialog" onSubmit={submit} aria-labelledby={titleId}>
            <h2 id={titleId}>Transfer conversation #{conversation.id}</h2>
            <fieldset className="choices">
              <legend>Give it to</legend>
              {targets.isPending && <p className="muted">Looking for available team leaders…</p>}
              {targets.isError && (
                <LoadError
                  what="the available team leaders"
                  error={targets.error}
                  onRetry={() => void targets.refetch()}
                />
              )}
              {targets.data?.length === 0 && (
                <p className="muted">
                  No other team leader is online with a free slot. You can send it back to the
                  queue.
                </p>
              )}
              {targets.data?.map((leader) => (
                <label key={leader.id} className="choice">
                  <input
                    type="radio"
                    name="target"
                    value={leader.id}
                    checked={choice === String(leader.id)}
                    onChange={() => setChoice(String(leader.id))}
                  />
                  <span>
                    {leader.display_name}{" "}
                    <span className="muted">
                      ({leader.free_slots} free {leader.free_slots === 1 ? "slot" : "slots"})
                    </span>
                  </span>
                </label>
              ))}
              <label className="choice">
                <input
                  type="radio"
                  name="target"
                  value={QUEUE}
                  checked={choice === QUEUE}
                  onChange={() => setChoice(QUEUE)}
                />
                <span>Back to the queue (the next available team leader)</span>
              </label>
            </fieldset>
            <div className="field">
              <label htmlFor={`${titleId}-reason`}>Reason (optional)</label>
              <textarea
                id={`${titleId}-reason`}
                rows={2}
                maxLength={500}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
            </div>
            <FormError error={transfer.error} />
            <div className="dialog-actions">
              <button type="button" className="button secondary" onClick={() => setOpen(false)}>
                Cancel
              </button>
              <button
                type="submit"
                className="button primary"
                disabled={choice === "" || transfer.isPending}
                aria-busy={transfer.isPending}
              >
                Transfer
              </button>
            </div>
          </form>
        )}
      </dialog>
    </>
  );
}
