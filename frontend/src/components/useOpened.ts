import { useCallback, useMemo, useSyncExternalStore } from "react";
import type { Conversation } from "../api/types";

// Which assignments this leader has opened, to mark the others as new. This is
// the browser's own memory of what was looked at, not server data; it is kept
// in localStorage so that a reload or another tab agrees.

const KEEP = 200;
const listeners = new Set<() => void>();

function storageKey(userId: number): string {
  return `teamtalk:opened:${userId}`;
}

/** One assignment: the same conversation assigned again later is new again. */
function markOf(conversation: Conversation): string {
  return `${conversation.id}@${conversation.assigned_at ?? ""}`;
}

function read(key: string): string {
  try {
    return localStorage.getItem(key) ?? "[]";
  } catch {
    return "[]";
  }
}

function parse(raw: string): string[] {
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("storage", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", listener);
  };
}

export function useOpened(userId: number) {
  const key = storageKey(userId);
  const raw = useSyncExternalStore(subscribe, () => read(key));
  const opened = useMemo(() => new Set(parse(raw)), [raw]);

  const isNew = useCallback((c: Conversation) => !opened.has(markOf(c)), [opened]);
  const markOpened = useCallback(
    (c: Conversation) => {
      const marks = parse(read(key));
      const mark = markOf(c);
      if (marks.includes(mark)) return;
      try {
        localStorage.setItem(key, JSON.stringify([...marks, mark].slice(-KEEP)));
      } catch {
        return; // storage full or disabled: the marker simply stays
      }
      listeners.forEach((listener) => listener());
    },
    [key],
  );
  return { isNew, markOpened };
}
