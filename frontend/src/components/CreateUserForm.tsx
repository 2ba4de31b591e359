import { useState, type FormEvent } from "react";
import { ROLE_LABELS, ROLES, type Role } from "../api/types";
import { useCreateUser } from "../api/users";
import { Field } from "./Field";
import { FormError, errorFor } from "./FormError";

const DEFAULT_CAPACITY = 4;

const FIELDS = ["display_name", "email", "role", "password", "capacity"] as const;
const LABELS = {
  display_name: "Name",
  email: "Email",
  role: "Role",
  password: "Password",
  capacity: "Capacity",
};

interface Draft {
  display_name: string;
  email: string;
  role: Role;
  password: string;
  capacity: string;
}

const EMPTY: Draft = {
  display_name: "",
  email: "",
  role: "agent",
  password: "",
  capacity: String(DEFAULT_CAPACITY),
};

export function CreateUserForm() {
  const create = useCreateUser();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) =>
    setDraft((current) => ({ ...current, [key]: value }));
  const isLeader = draft.role === "teamleader";

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    create.mutate(
      {
        display_name: draft.display_name.trim(),
        email: draft.email.trim(),
        role: draft.role,
        password: draft.password,
        ...(isLeader ? { capacity: Number(draft.capacity) } : {}),
      },
      { onSuccess: () => setDraft(EMPTY) },
    );
  };

  const error = create.error;
  return (
    <form className="card form-grid" onSubmit={submit} aria-labelledby="new-user-title">
      <h2 id="new-user-title">New user</h2>
      <Field label="Name" error={errorFor(error, "display_name")}>
        {(control) => (
          <input
            {...control}
            required
            autoComplete="off"
            value={draft.display_name}
            onChange={(e) => set("display_name", e.target.value)}
          />
        )}
      </Field>
      <Field label="Email" error={errorFor(error, "email")}>
        {(control) => (
          <input
            {...control}
            type="email"
            required
            autoComplete="off"
            value={draft.email}
            onChange={(e) => set("email", e.target.value)}
          />
        )}
      </Field>
      <Field label="Role" error={errorFor(error, "role")}>
        {(control) => (
          <select
            {...control}
            value={draft.role}
            onChange={(e) => set("role", e.target.value as Role)}
          >
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {ROLE_LABELS[role]}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Password" error={errorFor(error, "password")}>
        {(control) => (
          <input
            {...control}
            type="password"
            required
            autoComplete="new-password"
            value={draft.password}
            onChange={(e) => set("password", e.target.value)}
          />
        )}
      </Field>
      {isLeader && (
        <Field
          label="Capacity"
          error={errorFor(error, "capacity")}
          hint="Conversations this leader can hold at once."
        >
          {(control) => (
            <input
              {...control}
              type="number"
              min={1}
              step={1}
              required
              inputMode="numeric"
              value={draft.capacity}
              onChange={(e) => set("capacity", e.target.value)}
            />
          )}
        </Field>
      )}
      <div className="form-actions">
        <FormError error={error} shownFields={FIELDS} labels={LABELS} />
        <button
          type="submit"
          className="button primary"
          disabled={create.isPending}
          aria-busy={create.isPending}
        >
          Create user
        </button>
      </div>
    </form>
  );
}
