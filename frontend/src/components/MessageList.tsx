import { memo, useEffect, useLayoutEffect, useRef, type ReactNode } from "react";
import { errorMessage } from "../api/client";
import type { MessageWindow } from "../api/messages";
import type { Message } from "../api/types";
import type { Outgoing } from "../realtime/outbox";
import { DateTime } from "./DateTime";
import { MessageText } from "./MessageText";

interface Props {
  window: MessageWindow;
  outgoing: readonly Outgoing[];
  me: number;
  /** The seq to show and highlight (a search hit), if any. */
  highlight: number | null;
  loading: "older" | "newer" | null;
  loadError: unknown;
  onLoad: (direction: "older" | "newer") => void;
  /** Whether the newest message is on screen. */
  onAtEnd: (atEnd: boolean) => void;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
  /** Extra actions offered with a send error, by error code. */
  errorAction?: ((item: Outgoing) => ReactNode) | undefined;
}

const NEAR_BOTTOM_PX = 80;

/** Messages oldest first in a scrolling log; older pages load at the top. */
export function MessageList({
  window: win,
  outgoing,
  me,
  highlight,
  loading,
  loadError,
  onLoad,
  onAtEnd,
  onRetry,
  onDiscard,
  errorAction,
}: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const top = useRef<HTMLDivElement>(null);
  const bottom = useRef<HTMLDivElement>(null);
  const nearBottom = useRef(true);
  const previous = useRef<{ first: number; last: number; height: number; pending: number } | null>(
    null,
  );

  const { messages } = win;
  const firstSeq = messages[0]?.seq ?? 0;
  const lastSeq = messages[messages.length - 1]?.seq ?? 0;
  // An outgoing message whose stored copy has arrived is shown once, as stored.
  const stored = new Set(messages.map((m) => m.client_id).filter((id) => id !== null));
  const pending = outgoing.filter((o) => !stored.has(o.clientId));

  // Keep the reader's place: older pages must not push the view, and new
  // messages scroll into view only when the reader was at the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    const before = previous.current;
    if (before === null) {
      const target =
        highlight === null ? null : el.querySelector<HTMLElement>(`[data-seq="${highlight}"]`);
      if (target) target.scrollIntoView({ block: "center" });
      else el.scrollTop = el.scrollHeight;
    } else if (firstSeq < before.first) {
      el.scrollTop += el.scrollHeight - before.height;
    } else if (lastSeq > before.last || pending.length > before.pending) {
      const mine = pending.length > before.pending;
      if (nearBottom.current || mine) el.scrollTop = el.scrollHeight;
    }
    previous.current = {
      first: firstSeq,
      last: lastSeq,
      height: el.scrollHeight,
      pending: pending.length,
    };
  });

  // Scrolling to the top loads older messages; the bottom counts as "seen".
  useEffect(() => {
    const el = scroller.current;
    if (el === null || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (entry.target === top.current && entry.isIntersecting && win.hasMoreBefore) {
            if (el.scrollHeight > el.clientHeight && loading === null && !loadError) {
              onLoad("older");
            }
          }
          if (entry.target === bottom.current) onAtEnd(entry.isIntersecting && !win.hasMoreAfter);
        }
      },
      { root: el },
    );
    if (top.current) observer.observe(top.current);
    if (bottom.current) observer.observe(bottom.current);
    return () => observer.disconnect();
  }, [win.hasMoreBefore, win.hasMoreAfter, loading, loadError, onLoad, onAtEnd]);

  return (
    <div
      className="message-scroller"
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        nearBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
      }}
    >
      <div ref={top} className="message-edge">
        {win.hasMoreBefore ? (
          <button
            type="button"
            className="button secondary small"
            disabled={loading !== null}
            aria-busy={loading === "older"}
            onClick={() => onLoad("older")}
          >
            {loading === "older" ? "Loading…" : "Load older messages"}
          </button>
        ) : (
          <p className="message-start">Start of the conversation</p>
        )}
      </div>
      {loadError !== null && (
        <div role="alert" className="alert compact">
          Could not load more messages: {errorMessage(loadError)}
        </div>
      )}
      <ol className="messages" role="log" aria-label="Messages" aria-live="polite">
        {messages.map((message) => (
          <MessageItem
            key={message.id}
            message={message}
            mine={message.sender_id === me}
            highlighted={message.seq === highlight}
          />
        ))}
        {!win.hasMoreAfter &&
          pending.map((item) => (
            <li
              key={item.clientId}
              className={`message mine ${item.state}`}
              data-testid="outgoing-message"
            >
              <div className="message-bubble">
                <MessageText body={item.body} />
              </div>
              {item.state === "sending" ? (
                <p className="message-meta">Sending…</p>
              ) : (
                <div className="message-failed" role="alert">
                  <p>
                    Not sent: {item.error?.message ?? "unknown error"}
                    {retryAfter(item) !== null && ` Try again in ${retryAfter(item)} s.`}
                  </p>
                  <div className="message-failed-actions">
                    {errorAction?.(item)}
                    {item.error?.code !== "conversation_closed" &&
                      item.error?.code !== "read_only" && (
                        <button
                          type="button"
                          className="button secondary small"
                          onClick={() => onRetry(item.clientId)}
                        >
                          Retry
                        </button>
                      )}
                    <button
                      type="button"
                      className="button secondary small"
                      onClick={() => onDiscard(item.clientId)}
                    >
                      Discard
                    </button>
                  </div>
                </div>
              )}
            </li>
          ))}
      </ol>
      <div ref={bottom} className="message-edge">
        {win.hasMoreAfter && (
          <button
            type="button"
            className="button secondary small"
            disabled={loading !== null}
            aria-busy={loading === "newer"}
            onClick={() => onLoad("newer")}
          >
            {loading === "newer" ? "Loading…" : "Load newer messages"}
          </button>
        )}
      </div>
    </div>
  );
}

/** Seconds to wait before retrying, when the server said (rate_limited). */
function retryAfter(item: Outgoing): number | null {
  const details = item.error?.details;
  if (typeof details !== "object" || details === null || !("retry_after" in details)) return null;
  const seconds = (details as { retry_after: unknown }).retry_after;
  return typeof seconds === "number" && seconds > 0 ? Math.ceil(seconds) : null;
}

// Messages keep their identity in the cache, so only new or changed ones render again.
const MessageItem = memo(function MessageItem({
  message,
  mine,
  highlighted,
}: {
  message: Message;
  mine: boolean;
  highlighted: boolean;
}) {
  const classes = ["message", message.kind === "system" ? "system" : mine ? "mine" : "theirs"];
  if (highlighted) classes.push("highlighted");
  if (message.kind === "system") {
    return (
      <li className={classes.join(" ")} data-seq={message.seq} data-testid="system-message">
        <p>
          <MessageText body={message.body} /> · <DateTime value={message.created_at} />
        </p>
      </li>
    );
  }
  return (
    <li
      className={classes.join(" ")}
      data-seq={message.seq}
      data-testid="message"
      aria-current={highlighted ? "true" : undefined}
    >
      <p className="message-meta">
        <span className="message-sender">{mine ? "You" : (message.sender_name ?? "Someone")}</span>{" "}
        <DateTime value={message.created_at} />
      </p>
      <div className="message-bubble">
        <MessageText body={message.body} />
      </div>
    </li>
  );
});
