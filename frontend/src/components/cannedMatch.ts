// The composer's `/` shortcut, as pure functions: where the `/query` is, which canned
// responses it matches, and the text once one is put in its place.

import type { CannedResponse } from "../api/types";

/** How many matches the picker lists; typing more narrows them. */
export const MAX_SHOWN = 8;

export interface SlashQuery {
  /** Where the `/` is in the text. */
  start: number;
  /** What follows it, up to the cursor. */
  query: string;
}

/** The `/query` the cursor is at the end of: a `/` at the start of the text or after
 * whitespace, followed by no whitespace. Null when there is none ("and/or" is not one). */
export function slashQuery(text: string, caret: number): SlashQuery | null {
  let start = caret;
  while (start > 0 && !/\s/.test(text.charAt(start - 1))) start -= 1;
  if (text.charAt(start) !== "/") return null;
  return { start, query: text.slice(start + 1, caret) };
}

/** Those whose title or body holds the query, ignoring case: the conversation's topic's
 * first, then titles starting with the query, then by title. */
export function matchCanned(
  responses: readonly CannedResponse[],
  query: string,
  topicId: number | null,
): CannedResponse[] {
  const needle = query.toLocaleLowerCase();
  const rank = (c: CannedResponse) =>
    (topicId !== null && c.topic_id === topicId ? 0 : 2) +
    (c.title.toLocaleLowerCase().startsWith(needle) ? 0 : 1);
  return responses
    .filter(
      (c) =>
        c.title.toLocaleLowerCase().includes(needle) || c.body.toLocaleLowerCase().includes(needle),
    )
    .map((c) => ({ c, rank: rank(c) }))
    .sort((a, b) => a.rank - b.rank || a.c.title.localeCompare(b.c.title))
    .map(({ c }) => c)
    .slice(0, MAX_SHOWN);
}

/** The text with the `/query` (from `at.start` to `caret`) replaced by the body, and the
 * cursor just after it; cut at `max` characters, as the box would be. */
export function insertCanned(
  text: string,
  at: SlashQuery,
  body: string,
  max: number,
): { text: string; caret: number } {
  const end = at.start + 1 + at.query.length;
  const before = text.slice(0, at.start) + body;
  const joined = (before + text.slice(end)).slice(0, max);
  return { text: joined, caret: Math.min(before.length, joined.length) };
}
