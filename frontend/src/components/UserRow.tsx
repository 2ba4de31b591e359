import { useEffect, useRef, useState, type FormEvent } from "react";
import { ROLE_LABELS, ROLES, type Role, type User, type UserChanges } from "../api/types";
import type { LeaderOverview } from "../api/monitoring";
import { useDeactivateUser, useReactivateUser, useUpdateUser } from "../api/users";
import { leaderNow } from "./dashboard/live";
import { ConfirmDialog } from "./ConfirmDialog";
import { FormError, errorFor } from "./FormError";

const COLUMNS = 7;
const LABELS = { display_name: "Name", role: "Role", capacity: "Capacity" };
const EDIT_FIELDS = ["display_name", "role", "capacity"] as const;

interface Props {
  user: User;
  /** The signed-in admin, who may not deactivate themselves. */
  isSelf: boolean;
  /** A leader's live status and load, from the dashboard's overview. */
  now?: LeaderOverview | undefined;
}

export function UserRow({ user, isSelf, now }: Props) {
  const [editing, setEditing] = useState(false);
  const update = useUpdateUser();
  const deactivate = useDeactivateUser();
  const reactivate = useReactivateUser();
  const [asking, setAsking] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);

  // Give focus back to the row's Edit button when its form closes.
  useEffect(() => {
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  const startEditing = () => {
    update.reset();
    deactivate.reset();
    reactivate.reset();
    setEditing(true);
  };

  const error = update.error ?? deactivate.error ?? reactivate.error;
  return (
    <>
      {editing ? (
        <UserEditor
          user={user}
          now={now}
          pending={update.isPending}
          error={update.error}
          onCancel={() => {
            update.reset();
            setEditing(false);
          }}
          onSave={(changes) => {
            if (Object.keys(changes).length === 0) return setEditing(false);
            update.mutate({ id: user.id, changes }, { onSuccess: () => setEditing(false) });
          }}
        />
      ) : (
        <tr className={user.is_active ? undefined : "inactive"}>
          <th scope="row">{user.display_name}</th>
          <td>{user.email}</td>
          <td>{ROLE_LABELS[user.role]}</td>
          <td>{user.role === "teamleader" ? user.capacity : <NotApplicable />}</td>
          <td>{user.is_active ? "Active" : "Inactive"}</td>
          <td>
            <Now user={user} now={now} />
          </td>
          <td className="actions">
            <button
              ref={editButton}
              type="button"
              className="button secondary"
              aria-label={`Edit ${user.display_name}`}
              onClick={startEditing}
            >
              Edit
            </button>
            {user.is_active && (
              <button
                type="button"
                className="button danger"
                aria-label={`Deactivate ${user.display_name}`}
                disabled={isSelf || deactivate.isPending}
                title={isSelf ? "You cannot deactivate your own account" : undefined}
                onClick={() => {
                  update.reset();
                  setAsking(true);
                }}
              >
                Deactivate
              </button>
            )}
            {!user.is_active && (
              <button
                type="button"
                className="button secondary"
                aria-label={`Reactivate ${user.display_name}`}
                disabled={reactivate.isPending}
                onClick={() => {
                  update.reset();
                  deactivate.reset();
                  reactivate.mutate(user.id);
                }}
              >
                Reactivate
              </button>
            )}
            <ConfirmDialog
              open={asking}
              title={`Deactivate ${user.display_name}?`}
              confirm="Deactivate"
              onConfirm={() => {
                setAsking(false);
                deactivate.mutate(user.id);
              }}
              onCancel={() => setAsking(false)}
            >
              <p>
                They are signed out everywhere at once and cannot sign in until reactivated.
                {user.role === "teamleader" && " Conversations they hold go back to the queue."}
              </p>
            </ConfirmDialog>
          </td>
        </tr>
      )}
      {error && (
        <tr className="row-error">
          <td colSpan={COLUMNS}>
            <FormError error={error} shownFields={editing ? EDIT_FIELDS : []} labels={LABELS} />
          </td>
        </tr>
      )}
    </>
  );
}

function NotApplicable() {
  return (
    <>
      <span aria-hidden="true">—</span>
      <span className="visually-hidden">Not applicable</span>
    </>
  );
}

function Now({ user, now }: { user: User; now: LeaderOverview | undefined }) {
  if (user.role !== "teamleader") return <NotApplicable />;
  return now === undefined ? <span className="muted">…</span> : <>{leaderNow(now)}</>;
}

interface EditorProps {
  user: User;
  now: LeaderOverview | undefined;
  pending: boolean;
  error: unknown;
  onSave: (changes: UserChanges) => void;
  onCancel: () => void;
}

function UserEditor({ user, now, pending, error, onSave, onCancel }: EditorProps) {
  const [name, setName] = useState(user.display_name);
  const [role, setRole] = useState<Role>(user.role);
  const [capacity, setCapacity] = useState(String(user.capacity));
  const formId = `edit-user-${user.id}`;

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const changes: UserChanges = {};
    if (name.trim() !== user.display_name) changes.display_name = name.trim();
    if (role !== user.role) changes.role = role;
    if (role === "teamleader" && Number(capacity) !== user.capacity)
      changes.capacity = Number(capacity);
    onSave(changes);
  };

  const nameError = errorFor(error, "display_name");
  const roleError = errorFor(error, "role");
  const capacityError = errorFor(error, "capacity");
  return (
    <tr className="editing" onKeyDown={(e) => e.key === "Escape" && onCancel()}>
      <th scope="row">
        <label className="visually-hidden" htmlFor={`${formId}-name`}>
          Name of {user.display_name}
        </label>
        <input
          id={`${formId}-name`}
          form={formId}
          required
          autoFocus
          value={name}
          onChange={(e) => setName(e.target.value)}
          aria-invalid={nameError ? true : undefined}
          aria-describedby={nameError ? `${formId}-name-error` : undefined}
        />
        {nameError && (
          <p id={`${formId}-name-error`} className="field-error">
            {nameError}
          </p>
        )}
      </th>
      <td>{user.email}</td>
      <td>
        <label className="visually-hidden" htmlFor={`${formId}-role`}>
          Role of {user.display_name}
        </label>
        <select
          id={`${formId}-role`}
          form={formId}
          value={role}
          onChange={(e) => setRole(e.target.value as Role)}
          aria-invalid={roleError ? true : undefined}
          aria-describedby={roleError ? `${formId}-role-error` : undefined}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABELS[r]}
            </option>
          ))}
        </select>
        {roleError && (
          <p id={`${formId}-role-error`} className="field-error">
            {roleError}
          </p>
        )}
      </td>
      <td>
        {role === "teamleader" ? (
          <>
            <label className="visually-hidden" htmlFor={`${formId}-capacity`}>
              Capacity of {user.display_name}
            </label>
            <input
              id={`${formId}-capacity`}
              form={formId}
              className="narrow"
              type="number"
              min={1}
              step={1}
              required
              inputMode="numeric"
              value={capacity}
              onChange={(e) => setCapacity(e.target.value)}
              aria-invalid={capacityError ? true : undefined}
              aria-describedby={capacityError ? `${formId}-capacity-error` : undefined}
            />
            {capacityError && (
              <p id={`${formId}-capacity-error`} className="field-error">
                {capacityError}
              </p>
            )}
          </>
        ) : (
          <NotApplicable />
        )}
      </td>
      <td>{user.is_active ? "Active" : "Inactive"}</td>
      <td>
        <Now user={user} now={now} />
      </td>
      <td className="actions">
        <form id={formId} onSubmit={submit} aria-label={`Edit ${user.display_name}`}>
          <button type="submit" className="button primary" disabled={pending} aria-busy={pending}>
            Save
          </button>
          <button type="button" className="button secondary" onClick={onCancel}>
            Cancel
          </button>
        </form>
      </td>
    </tr>
  );
}
