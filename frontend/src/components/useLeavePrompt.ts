import { useEffect, useRef } from "react";

const CHANNEL = "teamtalk-tabs";

type Note = { kind: "hello" | "here" | "bye"; tab: string };

/**
 * While `holding`, closing or leaving the last open tab of the app asks first (the
 * browser's own prompt): with no tab left, the leader goes offline once the grace
 * period ends and their conversations go back to the queue. Other tabs are known
 * through a BroadcastChannel; a tab that vanished without saying so counts as open,
 * which errs on not asking.
 */
export function useLeavePrompt(holding: boolean): void {
  const others = useRef(new Set<string>());
  const holdingNow = useRef(holding);
  holdingNow.current = holding;

  useEffect(() => {
    if (typeof BroadcastChannel === "undefined") return;
    const tab = crypto.randomUUID();
    const channel = new BroadcastChannel(CHANNEL);
    const say = (kind: Note["kind"]) => channel.postMessage({ kind, tab } satisfies Note);
    channel.onmessage = ({ data }: MessageEvent<Note>) => {
      if (data.tab === tab) return;
      if (data.kind === "bye") others.current.delete(data.tab);
      else others.current.add(data.tab);
      if (data.kind === "hello") say("here");
    };
    const leaving = () => say("bye");
    window.addEventListener("pagehide", leaving);
    say("hello");
    return () => {
      window.removeEventListener("pagehide", leaving);
      leaving();
      channel.close();
    };
  }, []);

  useEffect(() => {
    const ask = (event: BeforeUnloadEvent) => {
      if (!holdingNow.current || others.current.size > 0) return;
      event.preventDefault();
      event.returnValue = ""; // older browsers show the prompt only with it set
    };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, []);
}
