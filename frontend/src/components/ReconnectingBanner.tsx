import { useConnectionState } from "../realtime/context";

export function ReconnectingBanner() {
  if (useConnectionState() !== "reconnecting") return null;
  return (
    <div role="status" className="banner">
      Reconnecting…
    </div>
  );
}
