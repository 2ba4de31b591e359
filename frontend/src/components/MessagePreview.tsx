import type { Message } from "../api/types";

/** A list row's glimpse of the latest message, on one line. */
export function MessagePreview({ message, me }: { message: Message | null | undefined; me: number }) {
  if (!message) return null;
  const who =
    message.kind === "system"
      ? ""
      : message.sender_id === me
        ? "You: "
        : `${message.sender_name ?? "Someone"}: `;
  return (
    <span className={message.kind === "system" ? "preview system" : "preview"}>
      {who}
      {message.body.replace(/\s+/g, " ")}
    </span>
  );
}
