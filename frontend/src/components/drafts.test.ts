// Half-written replies in this browser's localStorage (jsdom's here).

import { afterEach, describe, expect, it, vi } from "vitest";
import { clearDrafts, draftKey, loadDraft, saveDraft } from "./drafts";

afterEach(() => {
  localStorage.clear();
});

describe("drafts", () => {
  it("are kept per user and conversation", () => {
    saveDraft(draftKey(1, 5), "Checking that for you");
    saveDraft(draftKey(1, 6), "Another one");
    saveDraft(draftKey(2, 5), "Someone else's");
    expect(loadDraft(draftKey(1, 5))).toBe("Checking that for you");
    expect(loadDraft(draftKey(1, 6))).toBe("Another one");
    expect(loadDraft(draftKey(2, 5))).toBe("Someone else's");
  });

  it("are kept as written, spaces and lines included", () => {
    const text = "  Hello,\n\nline two  ";
    saveDraft(draftKey(1, 5), text);
    expect(loadDraft(draftKey(1, 5))).toBe(text);
  });

  it("load as empty when there is none", () => {
    expect(loadDraft(draftKey(1, 99))).toBe("");
  });

  it("are removed when emptied, or left with only blanks", () => {
    const key = draftKey(1, 5);
    saveDraft(key, "text");
    saveDraft(key, "");
    expect(localStorage.getItem(key)).toBeNull();
    saveDraft(key, "text");
    saveDraft(key, " \n\t ");
    expect(localStorage.getItem(key)).toBeNull();
    expect(loadDraft(key)).toBe("");
  });

  it("are all cleared on sign-out, and nothing else is", () => {
    saveDraft(draftKey(1, 5), "one");
    saveDraft(draftKey(2, 6), "two");
    localStorage.setItem("teamtalk:opened:1", '["5@"]');
    localStorage.setItem("other-app", "keep");
    clearDrafts();
    expect(loadDraft(draftKey(1, 5))).toBe("");
    expect(loadDraft(draftKey(2, 6))).toBe("");
    expect(localStorage.getItem("teamtalk:opened:1")).toBe('["5@"]');
    expect(localStorage.getItem("other-app")).toBe("keep");
    expect(localStorage).toHaveLength(2);
  });

  it("stay in the box only when storage is full", () => {
    const key = draftKey(1, 5);
    saveDraft(key, "older");
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    });
    expect(() => saveDraft(key, "newer")).not.toThrow();
    expect(loadDraft(key)).toBe("older");
  });

  it("live only as long as the page when storage is disabled", () => {
    // As in a browser that blocks site data: reading window.localStorage throws.
    const disabled = vi.spyOn(window, "localStorage", "get").mockImplementation(() => {
      throw new DOMException("The operation is insecure.", "SecurityError");
    });
    const key = draftKey(1, 5);
    expect(() => saveDraft(key, "text")).not.toThrow();
    expect(loadDraft(key)).toBe("");
    expect(() => clearDrafts()).not.toThrow();
    disabled.mockRestore();
    expect(localStorage.getItem(key)).toBeNull();
  });
});
