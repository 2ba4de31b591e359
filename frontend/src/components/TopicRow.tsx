import { useState, type FormEvent } from "react";
import { useArchiveTopic, useRenameTopic, useRestoreTopic } from "../api/topics";
import type { Topic } from "../api/types";
import { FormError, errorFor } from "./FormError";
import { DateOnly } from "./DateOnly";

const COLUMNS = 4;

export function TopicRow({ topic }: { topic: Topic }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(topic.name);
  const rename = useRenameTopic();
  const archive = useArchiveTopic();
  const restore = useRestoreTopic();
  const formId = `rename-topic-${topic.id}`;
  const nameError = errorFor(rename.error, "name");

  const startRenaming = () => {
    rename.reset();
    archive.reset();
    setName(topic.name);
    setRenaming(true);
  };
  const stopRenaming = () => {
    rename.reset();
    setRenaming(false);
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed === topic.name) return setRenaming(false);
    rename.mutate({ id: topic.id, name: trimmed }, { onSuccess: () => setRenaming(false) });
  };

  const error = rename.error ?? archive.error ?? restore.error;
  return (
    <>
      <tr className={topic.archived ? "inactive" : undefined}>
        <th scope="row">
          {renaming ? (
            <>
              <label className="visually-hidden" htmlFor={`${formId}-name`}>
                New name for {topic.name}
              </label>
              <input
                id={`${formId}-name`}
                form={formId}
                required
                autoFocus
                value={name}
                onChange={(e) => setName(e.target.value)}
                onKeyDown={(e) => e.key === "Escape" && stopRenaming()}
                aria-invalid={nameError ? true : undefined}
              />
            </>
          ) : (
            topic.name
          )}
        </th>
        <td>{topic.archived ? "Archived" : "Active"}</td>
        <td>
          <DateOnly value={topic.created_at} />
        </td>
        <td className="actions">
          {renaming ? (
            <form id={formId} onSubmit={submit} aria-label={`Rename ${topic.name}`}>
              <button
                type="submit"
                className="button primary"
                disabled={rename.isPending}
                aria-busy={rename.isPending}
              >
                Save
              </button>
              <button type="button" className="button secondary" onClick={stopRenaming}>
                Cancel
              </button>
            </form>
          ) : (
            <>
              <button
                type="button"
                className="button secondary"
                aria-label={`Rename ${topic.name}`}
                onClick={startRenaming}
              >
                Rename
              </button>
              {!topic.archived && (
                <button
                  type="button"
                  className="button danger"
                  aria-label={`Archive ${topic.name}`}
                  disabled={archive.isPending}
                  onClick={() => {
                    rename.reset();
                    archive.mutate(topic.id);
                  }}
                >
                  Archive
                </button>
              )}
              {topic.archived && (
                <button
                  type="button"
                  className="button secondary"
                  aria-label={`Restore ${topic.name}`}
                  disabled={restore.isPending}
                  onClick={() => {
                    rename.reset();
                    restore.mutate(topic.id);
                  }}
                >
                  Restore
                </button>
              )}
            </>
          )}
        </td>
      </tr>
      {error && (
        <tr className="row-error">
          <td colSpan={COLUMNS}>
            <FormError error={error} labels={{ name: "Name" }} />
          </td>
        </tr>
      )}
    </>
  );
}
