import type { DirectoryEntry } from "../api/types";

interface Props {
  id: string;
  label: string;
  /** The choice of no one in particular. */
  anyone: string;
  people: DirectoryEntry[];
  /** The signed-in user, offered first as "Me". */
  me?: number | undefined;
  /** A user id, or "" for anyone. */
  value: string;
  onChange: (value: string | null) => void;
}

/** Pick an agent or team leader to filter by; deactivated people stay findable. */
export function PersonSelect({ id, label, anyone, people, me, value, onChange }: Props) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value || null)}>
        <option value="">{anyone}</option>
        {me !== undefined && <option value={me}>Me</option>}
        {people
          .filter((u) => u.id !== me)
          .map((u) => (
            <option key={u.id} value={u.id}>
              {u.display_name}
              {u.is_active ? "" : " (deactivated)"}
            </option>
          ))}
      </select>
    </div>
  );
}
