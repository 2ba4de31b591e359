// What a desktop notification says: who, and the first words of what they asked or wrote,
// so the leader can tell from the notification alone whether to switch now.

import type { Message } from "../api/types";
import type { Payload } from "../realtime/events";

export interface AlertText {
  title: string;
  body: string;
}

const WORDS_CHARS = 80;

/** The start of a text on one line, cut at a word where one ends near the limit. */
export function firstWords(text: string, max = WORDS_CHARS): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (line.length <= max) return line;
  const cut = line.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A conversation given to the leader: by the worker, or transferred with a reason. */
export function assignmentAlert({
  conversation,
  request,
  reason,
}: Payload<"assign_conversation">): AlertText {
  const agent = conversation.agent_name ?? "an agent";
  const asked = request ? `: ${firstWords(request)}` : "";
  const why = reason ? `\nTransfer reason: ${firstWords(reason)}` : "";
  return {
    title: `Conversation #${conversation.id}`,
    body: `New conversation from ${agent}${asked}${why}`,
  };
}

export function messageAlert(message: Message): AlertText {
  return {
    title: `Conversation #${message.conversation_id}`,
    body: `${message.sender_name ?? "Someone"}: ${firstWords(message.body)}`,
  };
}
