import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Built with a placeholder base that wschats swaps for WSC_BASE_PATH when it serves index.html,
// so one build works at `/` and under any prefix. One bundle, no lazy chunks: the chunk loader
// would need the real base at run time.
export default defineConfig({
  base: "/__WSC_BASE__/",
  plugins: [preact()],
  build: {
    target: "es2022",
    modulePreload: false,
    assetsInlineLimit: 0,
    rollupOptions: { output: { inlineDynamicImports: true } },
  },
  server: { proxy: { "^/(auth|rooms|users|attachments|preview|ext|meetings|health)": "http://127.0.0.1:10000", "/events": { target: "ws://127.0.0.1:10000", ws: true } } },
});
