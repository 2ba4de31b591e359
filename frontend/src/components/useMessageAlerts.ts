import { useEffect } from "react";
import { useNavigate } from "react-router";
import { useCurrentUser } from "../api/auth";
import type { Role } from "../api/types";
import { useSocketEvent } from "../realtime/context";
import { beep, notify, primeSound } from "./alerts";
import { messageAlert } from "./alertText";

const PAGE: Record<Role, string> = {
  agent: "/inbox",
  teamleader: "/workspace",
  admin: "/conversations",
};

/**
 * A beep and a desktop notification (if the user allowed them) for each message
 * from someone else that arrives while the page is hidden.
 */
export function useMessageAlerts(): void {
  const me = useCurrentUser();
  const navigate = useNavigate();
  useSocketEvent("new_message", ({ conversation_id, message }) => {
    if (document.visibilityState !== "hidden") return;
    if (message.kind !== "user" || message.sender_id === me.id) return;
    beep();
    const { title, body } = messageAlert(message);
    notify(
      title,
      body,
      `message-${message.id}`,
      () => void navigate(`${PAGE[me.role]}/${conversation_id}`),
    );
  });
  // Browsers allow sound only after a gesture on the page.
  useEffect(() => {
    const prime = () => primeSound();
    window.addEventListener("pointerdown", prime, { once: true });
    window.addEventListener("keydown", prime, { once: true });
    return () => {
      window.removeEventListener("pointerdown", prime);
      window.removeEventListener("keydown", prime);
    };
  }, []);
}
