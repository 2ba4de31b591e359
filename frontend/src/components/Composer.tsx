import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { useCanned } from "../api/canned";
import type { CannedResponse } from "../api/types";
import { CannedPicker, cannedOptionId } from "./CannedPicker";
import { insertCanned, matchCanned, slashQuery } from "./cannedMatch";
import { loadDraft, saveDraft } from "./drafts";

const MAX_MESSAGE = 5000;
const TYPING_EVERY_MS = 2_000;

interface Props {
  onSend: (body: string) => void;
  /** Called while the user types, at most every two seconds. */
  onTyping: () => void;
  disabled?: boolean;
  /** A line above the box, e.g. what sending will do to a solved conversation. */
  note?: string | null;
  /** Where the unsent text is kept (see drafts.ts); mount one composer per key. */
  draftKey: string;
  /** Offers canned responses on `/` (leaders and admins), the topic's first. */
  canned?: { topicId: number | null } | undefined;
}

/** Enter sends, Shift+Enter starts a new line; with `canned`, `/` opens the picker. */
export function Composer({ onSend, onTyping, disabled = false, note, draftKey, canned }: Props) {
  const id = useId();
  const [body, setBody] = useState(() => loadDraft(draftKey));
  const lastTyping = useRef(0);
  const box = useRef<HTMLTextAreaElement>(null);
  const picker = useCannedPicker(body, canned?.topicId ?? null, canned !== undefined);
  const listId = `${id}-canned`;

  // Opening a conversation puts the cursor where one writes, as chat apps do,
  // except on touch screens, where it would pop up the keyboard unasked.
  useEffect(() => {
    if (window.matchMedia?.("(pointer: fine)").matches) box.current?.focus({ preventScroll: true });
  }, []);

  const send = () => {
    const text = body.trim();
    if (text === "" || disabled) return;
    onSend(text);
    setBody("");
    saveDraft(draftKey, "");
    lastTyping.current = 0;
    box.current?.focus();
  };

  const change = (text: string) => {
    setBody(text);
    saveDraft(draftKey, text);
  };

  // The cursor after an insert, placed once React has put the new text in the box.
  const placeCaret = useRef<number | null>(null);
  useLayoutEffect(() => {
    const at = placeCaret.current;
    if (at === null || box.current === null) return;
    placeCaret.current = null;
    box.current.setSelectionRange(at, at);
  }, [body]);

  const insert = (chosen: CannedResponse) => {
    if (picker.slash === null) return;
    const done = insertCanned(body, picker.slash, chosen.body, MAX_MESSAGE);
    placeCaret.current = done.caret;
    picker.setCaret(done.caret);
    change(done.text);
  };

  const keyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (picker.open && picker.keyDown(event, insert)) return;
    // Enter that confirms an input method's composition is not a send.
    if (event.key !== "Enter" || event.shiftKey || event.nativeEvent.isComposing) return;
    event.preventDefault();
    send();
  };

  return (
    <form
      className="composer"
      aria-label="Send a message"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {note && (
        <p className="composer-note" id={`${id}-note`}>
          {note}
        </p>
      )}
      {picker.open && (
        <CannedPicker
          id={listId}
          query={picker.slash?.query ?? ""}
          matches={picker.matches}
          active={picker.active}
          loading={picker.loading}
          failed={picker.failed}
          onPick={insert}
          onHover={picker.setActive}
        />
      )}
      <div className="composer-row">
        <label htmlFor={id} className="visually-hidden">
          Message
        </label>
        <textarea
          id={id}
          ref={box}
          rows={2}
          maxLength={MAX_MESSAGE}
          placeholder="Write a message"
          aria-describedby={[`${id}-hint`, note ? `${id}-note` : ""].join(" ").trim()}
          aria-autocomplete={canned ? "list" : undefined}
          aria-controls={picker.open ? listId : undefined}
          aria-activedescendant={
            picker.open && picker.current ? cannedOptionId(listId, picker.current) : undefined
          }
          value={body}
          disabled={disabled}
          onKeyDown={keyDown}
          onFocus={() => picker.setFocused(true)}
          onBlur={() => picker.setFocused(false)}
          onSelect={(event) => picker.setCaret(event.currentTarget.selectionStart)}
          onChange={(event) => {
            change(event.target.value);
            picker.setCaret(event.target.selectionStart);
            const now = Date.now();
            if (event.target.value !== "" && now - lastTyping.current >= TYPING_EVERY_MS) {
              lastTyping.current = now;
              onTyping();
            }
          }}
        />
        <button type="submit" className="button primary" disabled={disabled || body.trim() === ""}>
          Send
        </button>
      </div>
      <p className="hint" id={`${id}-hint`}>
        Enter sends, Shift+Enter starts a new line.
        {canned && " Type / to insert a canned response."}
      </p>
    </form>
  );
}

/** The `/` picker's state: the query at the cursor, its matches, the highlighted one. */
function useCannedPicker(body: string, topicId: number | null, enabled: boolean) {
  const [caret, setCaret] = useState(body.length);
  const [focused, setFocused] = useState(false);
  const [active, setActiveAt] = useState({ start: -1, query: "", index: 0 });
  // Escape closes the picker until the `/query` changes (typing on opens it again).
  const [dismissed, setDismissed] = useState<string | null>(null);

  const found = enabled ? slashQuery(body, caret) : null;
  const slash = found !== null && `${found.start}:${found.query}` !== dismissed ? found : null;
  const open = focused && slash !== null;
  const list = useCanned({ topicId, enabled: open });
  const matches = open && list.data ? matchCanned(list.data, slash.query, topicId) : [];
  // The highlight starts over on the first match whenever the query changes.
  const same = slash !== null && active.start === slash.start && active.query === slash.query;
  const index = same ? Math.min(active.index, Math.max(matches.length - 1, 0)) : 0;
  const setActive = (next: number) =>
    slash && setActiveAt({ start: slash.start, query: slash.query, index: next });

  /** Whether the key was the picker's (and so not the box's). */
  const keyDown = (
    event: KeyboardEvent<HTMLTextAreaElement>,
    pick: (chosen: CannedResponse) => void,
  ): boolean => {
    if (slash === null || event.nativeEvent.isComposing) return false;
    const last = matches.length - 1;
    const chosen = matches[index];
    switch (event.key) {
      case "Escape":
        setDismissed(`${slash.start}:${slash.query}`);
        break;
      case "ArrowDown":
        if (last < 0) return false;
        setActive(index >= last ? 0 : index + 1);
        break;
      case "ArrowUp":
        if (last < 0) return false;
        setActive(index <= 0 ? last : index - 1);
        break;
      case "Enter":
      case "Tab":
        if (chosen === undefined || event.shiftKey) return false;
        pick(chosen);
        break;
      default:
        return false;
    }
    event.preventDefault();
    return true;
  };

  return {
    slash,
    open,
    matches,
    active: index,
    current: matches[index] ?? null,
    loading: list.isPending,
    failed: list.isError,
    setActive,
    setCaret,
    setFocused,
    keyDown,
  };
}
