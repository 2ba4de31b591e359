import { useState } from "react";
import { useDeleteCanned } from "../api/canned";
import type { CannedResponse } from "../api/types";
import { ConfirmDialog } from "./ConfirmDialog";
import { DateOnly } from "./DateOnly";
import { FormError } from "./FormError";
import { useTopicName } from "./useTopicName";

const COLUMNS = 5;

interface Props {
  canned: CannedResponse;
  onEdit: () => void;
  onDeleted: () => void;
}

export function CannedRow({ canned, onEdit, onDeleted }: Props) {
  const remove = useDeleteCanned();
  const topicName = useTopicName();
  const [asking, setAsking] = useState(false);

  return (
    <>
      <tr>
        <th scope="row">{canned.title}</th>
        <td>{canned.topic_id === null ? "Any topic" : topicName(canned.topic_id)}</td>
        <td className="canned-text">{canned.body}</td>
        <td>
          <DateOnly value={canned.updated_at} />
        </td>
        <td className="actions">
          <button
            type="button"
            className="button secondary"
            aria-label={`Edit ${canned.title}`}
            onClick={onEdit}
          >
            Edit
          </button>
          <button
            type="button"
            className="button danger"
            aria-label={`Delete ${canned.title}`}
            disabled={remove.isPending}
            onClick={() => setAsking(true)}
          >
            Delete
          </button>
          <ConfirmDialog
            open={asking}
            title={`Delete ${canned.title}?`}
            confirm="Delete"
            onConfirm={() => {
              setAsking(false);
              remove.mutate(canned.id, { onSuccess: onDeleted });
            }}
            onCancel={() => setAsking(false)}
          >
            <p>Team leaders will no longer be offered it. This cannot be undone.</p>
          </ConfirmDialog>
        </td>
      </tr>
      {remove.error && (
        <tr className="row-error">
          <td colSpan={COLUMNS}>
            <FormError error={remove.error} />
          </td>
        </tr>
      )}
    </>
  );
}
