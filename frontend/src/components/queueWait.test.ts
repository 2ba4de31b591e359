import { describe, expect, it } from "vitest";
import { waitText } from "./queueWait";

describe("waitText", () => {
  it("says a wait in words, rounded to what matters", () => {
    expect(waitText(0)).toBe("less than a minute");
    expect(waitText(45)).toBe("less than a minute");
    expect(waitText(60)).toBe("about 1 min");
    expect(waitText(900)).toBe("about 15 min");
    expect(waitText(89 * 60)).toBe("about 89 min");
    expect(waitText(3 * 3600)).toBe("about 3 h");
  });
});
