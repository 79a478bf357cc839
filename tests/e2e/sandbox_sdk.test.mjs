// The simulator as an established SDK sees it: runs tests/oracle/sandbox_sdk.py (PyPI
// wechatpayv3 as the merchant client) against the simulator under `wrangler dev`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { root } from "../../scripts/stack.mjs";
import { startAll } from "./support.mjs";

let env;
before(async () => {
  env = await startAll({ edgePort: 28787, sandboxPort: 28788 });
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
});

test("wechatpayv3 drives the simulator: prepay, query, close, pay, refund, notifications, faults, bills", { timeout: 300_000 }, () => {
  const python = join(process.env.WXC_TOOLS ?? join(process.env.HOME, ".cache", "wechat-checkout"), "oracle-venv", "bin", "python");
  const r = spawnSync(python, [join(root, "tests", "oracle", "sandbox_sdk.py")], {
    env: { ...process.env, SANDBOX_URL: env.stack.sandboxUrl },
    encoding: "utf8",
    timeout: 280_000,
  });
  process.stdout.write(r.stdout ?? "");
  process.stderr.write(r.stderr ?? "");
  assert.equal(r.status, 0, "sandbox_sdk.py reported failures");
  assert.match(r.stdout, /: \d+ checks passed, 0 failed/);
});
