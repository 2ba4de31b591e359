import { useEffect, useRef } from "react";
import type { CannedResponse } from "../api/types";

interface Props {
  /** The listbox's id, which the message box points at with aria-controls. */
  id: string;
  query: string;
  matches: readonly CannedResponse[];
  /** The highlighted match's index; the message box names it in aria-activedescendant. */
  active: number;
  loading: boolean;
  failed: boolean;
  onPick: (canned: CannedResponse) => void;
  onHover: (index: number) => void;
}

export function cannedOptionId(listId: string, canned: CannedResponse): string {
  return `${listId}-${canned.id}`;
}

/** The canned responses a `/query` in the composer matches; focus stays in the box, which
 * moves through them with the arrow keys. */
export function CannedPicker({
  id,
  query,
  matches,
  active,
  loading,
  failed,
  onPick,
  onHover,
}: Props) {
  const list = useRef<HTMLUListElement>(null);
  // The arrow keys move the highlight in the box, so the list follows it itself.
  useEffect(() => {
    list.current?.children[active]?.scrollIntoView?.({ block: "nearest" });
  }, [active]);

  let note: string | null = null;
  if (failed) note = "Canned responses could not be loaded.";
  else if (loading) note = "Loading canned responses…";
  else if (matches.length === 0) {
    note = query ? `No canned response matches “${query}”.` : "There are no canned responses yet.";
  }
  return (
    <div className="canned-picker">
      <p className="canned-picker-head" aria-hidden="true">
        Canned responses · ↑↓ to choose, Enter to insert, Esc to close
      </p>
      <ul ref={list} id={id} role="listbox" aria-label="Canned responses">
        {matches.map((canned, index) => (
          <li
            key={canned.id}
            id={cannedOptionId(id, canned)}
            role="option"
            aria-selected={index === active}
            className={index === active ? "active" : undefined}
            // Keeps the focus, and with it the cursor, in the message box.
            onMouseDown={(event) => event.preventDefault()}
            onMouseEnter={() => onHover(index)}
            onClick={() => onPick(canned)}
          >
            <span className="canned-title">{canned.title}</span>
            <span className="canned-body">{canned.body}</span>
          </li>
        ))}
      </ul>
      {note && (
        <p className="canned-picker-note" role="status">
          {note}
        </p>
      )}
    </div>
  );
}
