import { useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router";
import { useCreateRequest } from "../api/conversations";
import { useTopics } from "../api/topics";
import type { NewRequest } from "../api/types";
import { Field } from "./Field";
import { FormError, errorFor } from "./FormError";

const MAX_MESSAGE = 5000;
const FIELDS = ["message", "topic_id", "ticket_link"] as const;
const LABELS = { message: "Message", topic_id: "Topic", ticket_link: "Ticket link" };

interface Draft {
  message: string;
  topicId: string;
  ticketLink: string;
}

const EMPTY: Draft = { message: "", topicId: "", ticketLink: "" };

export function NewRequestForm() {
  const create = useCreateRequest();
  const topics = useTopics();
  const navigate = useNavigate();
  // A message that could not be sent in a closed conversation comes along.
  const carried = (useLocation().state as { draft?: unknown } | null)?.draft;
  const [draft, setDraft] = useState<Draft>(() =>
    typeof carried === "string" ? { ...EMPTY, message: carried } : EMPTY,
  );
  // One id per request this form means to open, kept until it is opened: sending it
  // again after an error whose answer was lost opens nothing twice.
  const [clientId, setClientId] = useState(() => crypto.randomUUID());
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) =>
    setDraft((current) => ({ ...current, [key]: value }));

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const request: NewRequest = { message: draft.message.trim(), client_id: clientId };
    if (draft.topicId !== "") request.topic_id = Number(draft.topicId);
    if (draft.ticketLink.trim() !== "") request.ticket_link = draft.ticketLink.trim();
    create.mutate(request, {
      onSuccess: ({ conversation }) => {
        setClientId(crypto.randomUUID()); // the next request is another one
        // The new conversation opens: that is where the team leader answers.
        void navigate(`/inbox/${conversation.id}`);
      },
    });
  };

  const error = create.error;
  return (
    <form className="card new-request" onSubmit={submit} aria-labelledby="new-request-title">
      <h2 id="new-request-title">New request</h2>
      <Field
        label="What do you need help with?"
        error={errorFor(error, "message")}
        hint="Describe the customer's case; this is the first message the team leader reads."
      >
        {(control) => (
          <textarea
            {...control}
            required
            rows={5}
            maxLength={MAX_MESSAGE}
            value={draft.message}
            onChange={(e) => set("message", e.target.value)}
          />
        )}
      </Field>
      <Field label="Topic" error={errorFor(error, "topic_id")} hint="Optional.">
        {(control) => (
          <select
            {...control}
            value={draft.topicId}
            onChange={(e) => set("topicId", e.target.value)}
          >
            <option value="">No topic</option>
            {topics.data?.map((topic) => (
              <option key={topic.id} value={topic.id}>
                {topic.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        label="Ticket link"
        error={errorFor(error, "ticket_link")}
        hint="Optional. The customer's ticket in your back office."
      >
        {(control) => (
          <input
            {...control}
            type="url"
            inputMode="url"
            autoComplete="off"
            placeholder="https://"
            value={draft.ticketLink}
            onChange={(e) => set("ticketLink", e.target.value)}
          />
        )}
      </Field>
      <FormError error={error} shownFields={FIELDS} labels={LABELS} />
      <div className="form-footer">
        <button
          type="submit"
          className="button primary"
          disabled={create.isPending}
          aria-busy={create.isPending}
        >
          Send request
        </button>
      </div>
    </form>
  );
}
