import { useState, type FormEvent } from "react";
import { useSubmitAs, type Outcome } from "../api/conversations";
import { useTopics } from "../api/topics";
import type { Conversation } from "../api/types";
import { Field } from "./Field";
import { FormError, errorFor } from "./FormError";

const FIELDS = ["status", "topic_id", "note"] as const;
const NOTE_MAX = 500;

interface Props {
  conversation: Conversation;
  onSubmitted: (conversation: Conversation) => void;
}

/**
 * Ends the leader's part: solved or pending, always with a topic, and an optional wrap-up
 * note both sides see in the conversation. Frees the slot at once.
 */
export function SubmitAsForm({ conversation, onSubmitted }: Props) {
  const submit = useSubmitAs(onSubmitted);
  const topics = useTopics();
  const [outcome, setOutcome] = useState<Outcome>("solved");
  // Until the leader picks one, the agent's topic is offered if it is still in use.
  const [picked, setPicked] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const agentTopic = topics.data?.some((t) => t.id === conversation.topic_id)
    ? String(conversation.topic_id)
    : "";
  const topicId = picked ?? agentTopic;

  const send = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    submit.mutate({ id: conversation.id, status: outcome, topicId: Number(topicId), note });
  };

  const noTopics = topics.isSuccess && topics.data.length === 0;
  return (
    <form className="submit-as" onSubmit={send} aria-labelledby="submit-as-title">
      <h3 id="submit-as-title">Submit as</h3>
      <div className="submit-as-fields">
        <Field label="Status" error={errorFor(submit.error, "status")}>
          {(control) => (
            <select
              {...control}
              value={outcome}
              onChange={(e) => setOutcome(e.target.value as Outcome)}
            >
              <option value="solved">Solved</option>
              <option value="pending">Pending</option>
            </select>
          )}
        </Field>
        <Field
          label="Topic"
          error={errorFor(submit.error, "topic_id")}
          hint={noTopics ? "An admin has to add topics before you can submit." : undefined}
        >
          {(control) => (
            <select
              {...control}
              required
              value={topicId}
              onChange={(e) => setPicked(e.target.value)}
            >
              <option value="" disabled>
                Choose a topic
              </option>
              {topics.data?.map((topic) => (
                <option key={topic.id} value={topic.id}>
                  {topic.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="submit-as-note">
          <Field label="Wrap-up note (optional)" error={errorFor(submit.error, "note")}>
            {(control) => (
              <textarea
                {...control}
                rows={2}
                maxLength={NOTE_MAX}
                value={note}
                onChange={(e) => setNote(e.target.value)}
              />
            )}
          </Field>
        </div>
        <button
          type="submit"
          className="button primary"
          disabled={submit.isPending}
          aria-busy={submit.isPending}
        >
          Submit
        </button>
      </div>
      <FormError error={submit.error} shownFields={FIELDS} />
    </form>
  );
}
