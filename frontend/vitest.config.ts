import { defineConfig } from "vitest/config";

// Unit tests of the web app's own state logic (the query cache's patches, the outbox, the
// drafts). jsdom gives them the window, localStorage and timers the modules use.
export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    unstubGlobals: true,
    restoreMocks: true,
  },
});
