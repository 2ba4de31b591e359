import type { ReactNode } from "react";

// Message bodies are plain text as written. They are rendered as React text
// nodes (never as HTML): line breaks are kept by CSS (white-space: pre-wrap) and
// http(s) addresses become links that open in a new tab.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,;:!?)\]}'"]+$/;

function safeHref(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** The parts of `body`: plain strings and links. */
export function linkify(body: string): ReactNode[] {
  const parts: ReactNode[] = [];
  let from = 0;
  for (const found of body.matchAll(URL_PATTERN)) {
    const start = found.index;
    let text = found[0];
    // Keep a closing bracket that belongs to the address, e.g. wiki links.
    const trailing = TRAILING.exec(text)?.[0] ?? "";
    const opens = (text.match(/\(/g) ?? []).length;
    const closes = (text.match(/\)/g) ?? []).length;
    if (trailing && !(trailing === ")" && opens >= closes)) {
      text = text.slice(0, text.length - trailing.length);
    }
    const href = safeHref(text);
    if (href === null) continue;
    if (start > from) parts.push(body.slice(from, start));
    parts.push(
      <a key={start} href={href} target="_blank" rel="noopener noreferrer">
        {text}
      </a>,
    );
    from = start + text.length;
  }
  if (from < body.length) parts.push(body.slice(from));
  return parts;
}

export function MessageText({ body }: { body: string }) {
  return <span className="message-text">{linkify(body)}</span>;
}
