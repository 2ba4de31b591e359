import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The Python server owns every non-asset path at run time; in development
// Vite serves the app and forwards server paths to `teamtalk serve`.
const backend = "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/teamtalk/web",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      "/api": backend,
      "/socket.io": { target: backend, ws: true },
      "/healthz": backend,
      "/readyz": backend,
    },
  },
});
