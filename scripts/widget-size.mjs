// The widget's size report: what a payer's browser downloads, raw and gzip (level 9), per file
// and in total, against the 45 KB gzip budget. Exits 1 above the budget.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = 45 * 1024;
const web = join(import.meta.dirname, "..", "web");
const files = ["checkout.wasm", "checkout.js", "checkout.css"];
const rows = files.map((name) => {
  const bytes = readFileSync(join(web, name));
  return { name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
const total = { name: "total", raw: rows.reduce((s, r) => s + r.raw, 0), gzip: rows.reduce((s, r) => s + r.gzip, 0) };
const pad = (v, n) => String(v).padStart(n);
console.log(`[widget size]   ${"file".padEnd(14)} ${pad("raw B", 8)} ${pad("gzip B", 8)}`);
for (const r of [...rows, total]) console.log(`[widget size]   ${r.name.padEnd(14)} ${pad(r.raw, 8)} ${pad(r.gzip, 8)}`);
const verdict = total.gzip <= BUDGET ? "within" : "OVER";
console.log(`[widget size]   ${verdict} the budget: ${total.gzip} of ${BUDGET} B gzip (${((100 * total.gzip) / BUDGET).toFixed(1)}%)`);
if (total.gzip > BUDGET) process.exit(1);
