import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
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
}

/** Enter sends, Shift+Enter starts a new line. */
export function Composer({ onSend, onTyping, disabled = false, note, draftKey }: Props) {
  const id = useId();
  const [body, setBody] = useState(() => loadDraft(draftKey));
  const lastTyping = useRef(0);
  const box = useRef<HTMLTextAreaElement>(null);

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

  const keyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
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
          value={body}
          disabled={disabled}
          onKeyDown={keyDown}
          onChange={(event) => {
            setBody(event.target.value);
            saveDraft(draftKey, event.target.value);
            const now = Date.now();
            if (event.target.value !== "" && now - lastTyping.current >= TYPING_EVERY_MS) {
              lastTyping.current = now;
              onTyping();
            }
          }}
        />
        <button
          type="submit"
          className="button primary"
          disabled={disabled || body.trim() === ""}
        >
          Send
        </button>
      </div>
      <p className="hint" id={`${id}-hint`}>
        Enter sends, Shift+Enter starts a new line.
      </p>
    </form>
  );
}
