import { describe, expect, it } from "vitest";
import type { CannedResponse } from "../api/types";
import { MAX_SHOWN, insertCanned, matchCanned, slashQuery } from "./cannedMatch";

function canned(id: number, title: string, body: string, topic_id: number | null = null) {
  const at = "2026-12-01T09:00:00Z";
  return {
    id,
    title,
    body,
    topic_id,
    created_at: at,
    updated_at: at,
  } satisfies CannedResponse;
}

describe("slashQuery", () => {
  it("finds a / at the start of the text or after whitespace", () => {
    expect(slashQuery("/gre", 4)).toEqual({ start: 0, query: "gre" });
    expect(slashQuery("Hi /gre", 7)).toEqual({ start: 3, query: "gre" });
    expect(slashQuery("Hi\n/", 4)).toEqual({ start: 3, query: "" });
  });

  it("reads only up to the cursor", () => {
    expect(slashQuery("/greeting", 3)).toEqual({ start: 0, query: "gr" });
  });

  it("is none inside a word, after a space, or without a /", () => {
    expect(slashQuery("and/or", 6)).toBeNull();
    expect(slashQuery("/gre ", 5)).toBeNull();
    expect(slashQuery("hello", 5)).toBeNull();
    expect(slashQuery("", 0)).toBeNull();
  });
});

describe("matchCanned", () => {
  const list = [
    canned(1, "Apology", "Sorry for the wait, I am here now."),
    canned(2, "Greeting", "Hello! Looking at it now."),
    canned(3, "Billing greeting", "Hello about your bill.", 7),
    canned(4, "Refund", "The refund is on its way."),
  ];

  it("matches title or body, ignoring case", () => {
    expect(matchCanned(list, "REFUND", null).map((c) => c.id)).toEqual([4]);
    expect(matchCanned(list, "now", null).map((c) => c.id)).toEqual([1, 2]);
  });

  it("puts the conversation's topic first, then titles starting with the query", () => {
    expect(matchCanned(list, "gre", null).map((c) => c.id)).toEqual([2, 3]);
    expect(matchCanned(list, "gre", 7).map((c) => c.id)).toEqual([3, 2]);
  });

  it("lists everything for an empty query, up to a limit", () => {
    const many = Array.from({ length: 20 }, (_, i) => canned(i + 1, `Reply ${i}`, "x"));
    expect(matchCanned(many, "", null)).toHaveLength(MAX_SHOWN);
    expect(matchCanned(list, "", null).map((c) => c.id)).toEqual([1, 3, 2, 4]);
  });
});

describe("insertCanned", () => {
  it("replaces the /query with the body and puts the cursor after it", () => {
    const text = "Hi /gre and more";
    const at = { start: 3, query: "gre" };
    expect(insertCanned(text, at, "Hello!", 5000)).toEqual({
      text: "Hi Hello! and more",
      caret: 9,
    });
  });

  it("works at the start of an empty box", () => {
    expect(insertCanned("/", { start: 0, query: "" }, "Hello!", 5000)).toEqual({
      text: "Hello!",
      caret: 6,
    });
  });

  it("cuts the text at the box's limit", () => {
    const result = insertCanned("ab /x", { start: 3, query: "x" }, "0123456789", 8);
    expect(result).toEqual({ text: "ab 01234", caret: 8 });
  });
});
