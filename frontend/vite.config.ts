// Library build: one self-contained script (IIFE) that defines <relais-widget>.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    lib: {
      entry: "src/relais-widget.ts",
      name: "RelaisWidget",
      formats: ["iife"],
      fileName: () => "relais-widget.js",
    },
    target: "es2020",
    sourcemap: false,
    emptyOutDir: true,
  },
});
