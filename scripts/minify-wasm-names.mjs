// Shortens the widget's wasm import, export and module names (wasm-bindgen's are long and
// hashed, and every payer downloads them twice: in the wasm and in the JS glue). binaryen's
// --minify-imports-and-exports-and-modules renames them in the wasm and prints the mapping;
// this applies the same mapping to the glue. Usage: minify-wasm-names.mjs <in.wasm> <glue.js> <out.wasm>
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [input, glue, output] = process.argv.slice(2);
const wasmOpt = join(import.meta.dirname, "..", "node_modules", ".bin", "wasm-opt");
const features = ["bulk-memory", "reference-types", "multivalue", "sign-ext", "nontrapping-float-to-int", "mutable-globals"];
const printed = execFileSync(wasmOpt, ["--minify-imports-and-exports-and-modules", ...features.map((f) => `--enable-${f}`), input, "-o", output], { encoding: "utf8" });
const mapping = JSON.parse(printed.slice(printed.indexOf("{")));
let js = readFileSync(glue, "utf8");
const modules = new Set(mapping.imports.map(([module]) => module));
if (modules.size !== 1) throw new Error(`expected one import module, got ${[...modules]}`);
// Each import is one key of the glue's import object; each export is read as `wasm.<name>`.
// (Some exports, such as wasm-bindgen's abort hooks, are not read by the glue at all.)
for (const [, from, to] of mapping.imports) {
  const key = new RegExp(`(?<![\\w$])${from}(?=: function)`, "g");
  if (js.match(key)?.length !== 1) throw new Error(`import ${from} is not one key of the glue's import object`);
  js = js.replace(key, JSON.stringify(to));
}
for (const [from, to] of mapping.exports) js = js.replace(new RegExp(`\\bwasm\\.${from}(?![\\w$])`, "g"), `wasm.${to}`);
if (/\bwasm\.(?!\$|[A-Za-z]{1,2}\b)[\w$]+/.test(js)) throw new Error("the glue reads an export that was not renamed");
// The module's new name: binaryen names the first (here the only) module "a".
const module = [...modules][0];
if (!js.includes(`"${module}"`)) throw new Error(`module ${module} is not in the glue`);
js = js.replaceAll(`"${module}"`, '"a"');
writeFileSync(glue, js);
