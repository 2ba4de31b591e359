// Half-written replies, kept per user and conversation in this browser, so switching
// between conversations or reloading loses nothing. Cleared on sending and on sign-out
// (a shared computer keeps nothing of a signed-out user's).

const PREFIX = "teamtalk:draft:";

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: drafts live only as long as the page
  }
}

export function draftKey(userId: number, conversationId: number): string {
  return `${PREFIX}${userId}:${conversationId}`;
}

export function loadDraft(key: string): string {
  return storage()?.getItem(key) ?? "";
}

export function saveDraft(key: string, text: string): void {
  try {
    if (text.trim() === "") storage()?.removeItem(key);
    else storage()?.setItem(key, text);
  } catch {
    // Quota reached: the draft stays in the box, just not across reloads.
  }
}

export function clearDrafts(): void {
  const store = storage();
  if (store === null) return;
  const keys = Array.from({ length: store.length }, (_, i) => store.key(i));
  for (const key of keys) if (key?.startsWith(PREFIX)) store.removeItem(key);
}
