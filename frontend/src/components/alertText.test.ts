// The words of desktop notifications.

import { describe, expect, it } from "vitest";
import { conversation, message } from "../test/server";
import { assignmentAlert, firstWords, messageAlert } from "./alertText";

describe("notifications", () => {
  it("name the agent and start the request", () => {
    const request = `Need help with case #4711: the customer was charged twice ${"x ".repeat(40)}`;
    const alert = assignmentAlert({
      conversation: conversation({ id: 5, agent_name: "Ann Agent" }),
      request,
    });
    expect(alert.title).toBe("Conversation #5");
    expect(alert.body).toMatch(
      /^New conversation from Ann Agent: Need help with case #4711: the customer was charged/,
    );
    expect(alert.body.endsWith("…")).toBe(true);
    expect(alert.body.length).toBeLessThan(120);
  });

  it("say a transfer's reason", () => {
    const alert = assignmentAlert({
      conversation: conversation({ id: 5, agent_name: "Ann Agent" }),
      request: "Refund?",
      reason: "customer needs billing",
    });
    expect(alert.body).toBe(
      "New conversation from Ann Agent: Refund?\nTransfer reason: customer needs billing",
    );
  });

  it("start a message, with its sender", () => {
    const m = message({ conversation_id: 7, seq: 3, body: "Hi\n\nthere" });
    expect(messageAlert(m)).toEqual({ title: "Conversation #7", body: "Ann Agent: Hi there" });
  });

  it("cut long text at a word", () => {
    expect(firstWords("short")).toBe("short");
    expect(firstWords("aaaa bbbb cccc", 11)).toBe("aaaa bbbb…");
    expect(firstWords("a".repeat(30), 10)).toBe(`${"a".repeat(10)}…`);
  });
});
