import { useState, type FormEvent } from "react";
import { useCreateCanned, useUpdateCanned } from "../api/canned";
import { useTopics } from "../api/topics";
import type { CannedResponse } from "../api/types";
import { Field } from "./Field";
import { FormError, errorFor } from "./FormError";

const FIELDS = ["title", "body", "topic_id"] as const;

interface Props {
  /** The one being edited, or null for a new one. */
  editing: CannedResponse | null;
  onDone: () => void;
}

/** A new canned response, or changes to one. */
export function CannedForm({ editing, onDone }: Props) {
  const create = useCreateCanned();
  const update = useUpdateCanned();
  const topics = useTopics({ includeArchived: true });
  const [title, setTitle] = useState(editing?.title ?? "");
  const [body, setBody] = useState(editing?.body ?? "");
  const [topicId, setTopicId] = useState(editing?.topic_id?.toString() ?? "");
  const saving = editing ? update : create;
  // Archived topics are not offered, but one kept from before stays as it was.
  const offered = (topics.data ?? []).filter((t) => !t.archived || t.id === editing?.topic_id);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const draft = { title: title.trim(), body: body.trim(), topic_id: Number(topicId) || null };
    if (editing) {
      update.mutate({ id: editing.id, draft }, { onSuccess: onDone });
    } else {
      create.mutate(draft, {
        onSuccess: () => {
          setTitle("");
          setBody("");
          setTopicId("");
        },
      });
    }
  };

  const heading = editing ? `Edit ${editing.title}` : "New canned response";
  return (
    <form className="card canned-form" onSubmit={submit} aria-label={heading}>
      <h2>{heading}</h2>
      <div className="canned-form-row">
        <Field label="Title" error={errorFor(saving.error, "title")}>
          {(control) => (
            <input
              {...control}
              required
              maxLength={80}
              autoComplete="off"
              value={title}
              onChange={(e) => setTitle(e.target.value)}
            />
          )}
        </Field>
        <Field
          label="Topic"
          hint="Offered first in this topic's conversations"
          error={errorFor(saving.error, "topic_id")}
        >
          {(control) => (
            <select {...control} value={topicId} onChange={(e) => setTopicId(e.target.value)}>
              <option value="">Any topic</option>
              {offered.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label="Text" error={errorFor(saving.error, "body")}>
        {(control) => (
          <textarea
            {...control}
            required
            rows={4}
            maxLength={2000}
            value={body}
            onChange={(e) => setBody(e.target.value)}
          />
        )}
      </Field>
      <div className="canned-form-actions">
        <button
          type="submit"
          className="button primary"
          disabled={saving.isPending}
          aria-busy={saving.isPending}
        >
          {editing ? "Save" : "Add canned response"}
        </button>
        {editing && (
          <button type="button" className="button secondary" onClick={onDone}>
            Cancel
          </button>
        )}
      </div>
      <FormError error={saving.error} shownFields={FIELDS} />
    </form>
  );
}
