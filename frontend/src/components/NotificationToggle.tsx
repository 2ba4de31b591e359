import { useState } from "react";
import { notificationsSupported, primeSound } from "./alerts";

/** Asks for permission from a click, as browsers require. */
export function NotificationToggle() {
  const [permission, setPermission] = useState<NotificationPermission>(() =>
    notificationsSupported() ? Notification.permission : "denied",
  );
  if (!notificationsSupported()) return null;
  if (permission === "granted") {
    return <p className="tool-note">Desktop notifications on</p>;
  }
  if (permission === "denied") {
    return <p className="tool-note">Notifications are blocked in this browser</p>;
  }
  return (
    <button
      type="button"
      className="button secondary"
      onClick={() => {
        primeSound();
        void Notification.requestPermission().then(setPermission);
      }}
    >
      Enable notifications
    </button>
  );
}
