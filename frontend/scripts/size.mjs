// Prints the bundle's gzipped size and fails the build when it is over the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const LIMIT_KB = 60;
const file = new URL("../dist/relais-widget.js", import.meta.url);
const raw = readFileSync(file);
const gz = gzipSync(raw, { level: 9 }).length / 1024;
console.log(`relais-widget.js: ${(raw.length / 1024).toFixed(1)} KB, ${gz.toFixed(1)} KB gzipped (limit ${LIMIT_KB} KB)`);
if (gz > LIMIT_KB) {
  console.error(`The widget is over its ${LIMIT_KB} KB gzipped budget.`);
  process.exit(1);
}
