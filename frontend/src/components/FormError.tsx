import { errorMessage, fieldErrors } from "../api/client";

interface Props {
  error: unknown;
  /** Fields whose errors are shown next to the field itself. */
  shownFields?: readonly string[];
  /** Names to show for other fields, e.g. {display_name: "Name"}. */
  labels?: Readonly<Record<string, string>>;
}

/** A failed submit: the server's message plus any field errors not shown by a field. */
export function FormError({ error, shownFields = [], labels = {} }: Props) {
  if (error === null || error === undefined) return null;
  const others = fieldErrors(error).filter((e) => !shownFields.includes(e.field));
  return (
    <div role="alert" className="alert">
      <p>{errorMessage(error)}</p>
      {others.length > 0 && (
        <ul>
          {others.map((e, i) => (
            <li key={i}>
              {e.field ? `${labels[e.field] ?? e.field}: ` : ""}
              {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The first error the server gave for `field`, if any. */
export function errorFor(error: unknown, field: string): string | undefined {
  return fieldErrors(error).find((e) => e.field === field)?.message;
}
