// API fuzzing (issue #9, part 2): schemathesis (PyPI) against the OpenAPI document the
// edge-worker serves, under `wrangler dev` with the simulator: every operation, the stateful
// links (create a session → read, pay, check, close, refund it → read the refund), every check
// schemathesis has. Zero 5xx and zero answers that break the schema. Ports 10787/10788.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { edgeUnderMiniflare, readDevVars, root, stopGroup, wranglerVars } from "../../scripts/stack.mjs";
import { NO_RATE_LIMITS, outputDir, startAll } from "./support.mjs";

const st = join(process.env.WXC_TOOLS, "schemathesis-venv", "bin", "st");
const EXAMPLES = process.env.API_FUZZ_EXAMPLES ?? "50";
let env;

describe("API fuzzing with schemathesis", { timeout: 900_000 }, () => {
  before(async () => {
    // Rate limits off: schemathesis sends hundreds of requests a minute from one address.
    env = await startAll({
      edgePort: 10787,
      sandboxPort: 10788,
      // The amount ceiling off too: the document promises any int32 amount, as this
      // deployment then takes (risk.test.mjs tests the ceiling).
      edgeVars: { ...NO_RATE_LIMITS, RISK_MAX_SESSION_FEN: "0" },
      // The deployed build, not the tests' one: no `/_test/…` routes (proven absent below).
      testRoutes: false,
    });
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
  });

  test("the deployed build has none of the tests' routes: the same 404 as any unknown page", async () => {
    const unknown = await fetch(`${env.stack.edgeUrl}/no-such-page`);
    assert.equal(unknown.status, 404);
    const notFound = await unknown.json();
    const routes = [
      ["GET", "/_test/books/sessions"],
      ["GET", "/_test/books/events?kind=paid"],
      ["GET", "/_test/books/platform_certificates"],
      ["GET", "/_test/counters?subject=127.0.0.1"],
      ["GET", "/_test/usage"],
      ["GET", "/_test/shards"],
      ["GET", "/_test/objects/schema?name=subject:127.0.0.1"],
      ["GET", "/_test/objects/due?session=cs_x"],
      ["POST", "/_test/faults/unanswered-idempotency-key", { key: "create_session:x", secs_ago: 31 }],
      ["POST", "/_test/faults/forget-platform-certificates", {}],
      ["POST", "/_test/faults/rewind-listing", { shard: 0 }],
      ["POST", "/_test/faults/lost-alarm", { session: "cs_x" }],
    ];
    for (const [method, path, body] of routes) {
      const r = await fetch(`${env.stack.edgeUrl}${path}`, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.deepEqual(await r.json(), notFound, `${method} ${path} answers as an unknown page`);
    }
  });

  test("the deployed build refuses a plain-http WeChat Pay or OAuth base, naming the setting", async () => {
    // wrangler.toml as it ships (production bases), the test keys, one base changed.
    const answer = async (change) => {
      const logs = [];
      const mf = edgeUnderMiniflare({ ...wranglerVars(), ...readDevVars(), ...change }, { handleStructuredLogs: ({ message }) => logs.push(message) });
      try {
        await mf.ready;
        const res = await mf.dispatchFetch("http://127.0.0.1/v1/checkout/sessions/cs_none", { headers: { Authorization: "Bearer wrong" } });
        return { status: res.status, body: await res.json(), logs: logs.join("\n") };
      } finally {
        await mf.dispose();
      }
    };
    assert.equal((await answer({})).body.error.code, "unauthorized", "as shipped it runs (and refuses the wrong key)");
    for (const name of ["WECHATPAY_API_BASE", "WECHAT_OAUTH_AUTHORIZE_BASE", "WECHAT_OAUTH_API_BASE"]) {
      const r = await answer({ [name]: "http://api.mch.weixin.qq.com" });
      assert.deepEqual([r.status, r.body.error.code], [500, "misconfigured"], name);
      assert.match(r.logs, new RegExp(`${name} must be an https:// URL`), `the log names ${name}`);
    }
    assert.equal((await answer({ WECHATPAY_API_BASE: "http://127.0.0.1:1" })).body.error.code, "unauthorized", "http to this machine (a simulator) is allowed");
  });

  test("every operation, every check: no 5xx, no answer outside the schema", async () => {
    const { edgeUrl, sandboxUrl } = env.stack;
    const args = ["run", `${edgeUrl}/v1/openapi.json`, "--url", edgeUrl, "--checks", "all",
      "--max-examples", EXAMPLES, "--workers", "1", "--seed", process.env.API_FUZZ_SEED ?? "20261124",
      "--request-timeout", "30", "--no-color", "--report", "junit", "--report-junit-path", join(outputDir, "schemathesis.xml"),
      // The widget's WebSocket: not an HTTP exchange schemathesis can drive (a valid request is an
      // upgrade, answered 101); objects.test.mjs covers its refusals and its messages.
      "--exclude-operation-id", "widgetSessionEvents"];
    // Its own process group, under a time limit, stopped by its id if the test ends first.
    const child = spawn("timeout", ["--kill-after=10", "600", st, ...args], {
      cwd: join(root, "tests", "api"),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SCHEMATHESIS_HOOKS: "hooks", EDGE_URL: edgeUrl, SANDBOX_URL: sandboxUrl, MERCHANT_SECRET_KEY: env.edgeVars.MERCHANT_SECRET_KEY, PLATFORM_SECRET_KEY: env.edgeVars.PLATFORM_SECRET_KEY },
    });
    let output = "";
    for (const s of [child.stdout, child.stderr]) s.on("data", (d) => (output += d));
    const code = await new Promise((resolve) => child.on("exit", resolve)).finally(() => stopGroup(child));
    const summary = output.slice(output.lastIndexOf("SUMMARY"));
    assert.equal(code, 0, `schemathesis failed:\n${output.slice(-6000)}`);
    const tested = summary.match(/Tested: (\d+)/)?.[1];
    const selected = summary.match(/Selected: (\d+)\/(\d+)/);
    assert.ok(selected && Number(selected[1]) === Number(selected[2]) - 1 && tested === selected[1], `every operation but the socket tested:\n${summary}`);
    const cases = summary.match(/(\d+) generated, (\d+) passed/);
    assert.ok(cases && cases[1] === cases[2], `every case passed:\n${summary}`);
    assert.match(summary, /✅ Stateful/, "the stateful phase ran and passed");
    // Independently of schemathesis' own checks: what the Worker answered, from its log.
    const log = readFileSync(join(outputDir, "logs-10787", "edge.log"), "utf8");
    const answers = [...log.matchAll(/\[wrangler:info\] [A-Z]+ \S+ (\d{3}) /g)].map((m) => Number(m[1]));
    const fiveHundreds = answers.filter((s) => s >= 500).length;
    assert.ok(answers.length > 500, `the log holds the run (${answers.length} answers)`);
    assert.equal(fiveHundreds, 0, "no 5xx in the Worker's log");
    const byClass = answers.reduce((m, s) => ((m[`${Math.floor(s / 100)}xx`] = (m[`${Math.floor(s / 100)}xx`] ?? 0) + 1), m), {});
    console.log(`[api-fuzz] schemathesis: ${tested} operations, ${cases[1]} cases (examples ${EXAMPLES} per operation, stateful links), all checks passed; the Worker answered ${answers.length} requests: ${JSON.stringify(byClass)}, 0 5xx`);
  });
});
