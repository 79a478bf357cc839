// Starts the local stack: the WeChat Pay simulator, and the edge-worker with the back office behind
// it, under `wrangler dev` on 127.0.0.1 with local D1, each in its own process group (so it can be
// stopped with everything it spawned) and, for tests, under a time limit. Used by `make dev` and
// the tests.
import { spawn, spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");

/** Runs a script or command to completion, failing loudly. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.quiet ? "pipe" : "inherit", encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return r.stdout;
}

/**
 * Every rate limit switched off, for runs that send many requests from one address on purpose:
 * the benchmarks and the load tests (the limits themselves are tested in abuse.test.mjs).
 */
export const NO_RATE_LIMITS = {
  RATE_LIMIT_SESSIONS_PER_IP: "0",
  RATE_LIMIT_PAY_PER_IP: "0",
  RATE_LIMIT_PAY_PER_SESSION: "0",
  RATE_LIMIT_SIGN_IN_PER_IP: "0",
  RATE_LIMIT_READ_PER_IP: "0",
};

/** Reads a .dev.vars file into an object (the simple KEY="value" lines devkeys.mjs writes). */
export function readDevVars(path = join(root, ".dev.vars")) {
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = line.match(/^([A-Z0-9_]+)=(["']?)(.*)\2$/);
    if (m) vars[m[1]] = m[3];
  }
  return vars;
}

/** The [vars] of wrangler.toml, as the deployed Worker sees them. */
export function wranglerVars() {
  const vars = {};
  let inVars = false;
  for (const line of readFileSync(join(root, "wrangler.toml"), "utf8").split("\n")) {
    if (/^\[/.test(line)) inVars = line.trim() === "[vars]";
    const m = inVars && line.match(/^([A-Z0-9_]+)\s*=\s*"(.*)"/);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/**
 * The deployed build of the edge-worker (`edge-worker/build`) under Miniflare (workerd with its
 * generated config and a local D1, no `wrangler dev` proxy), with `bindings` as its vars and
 * secrets; `options` are Miniflare's (host, port, persistence, log handlers).
 */
export function edgeUnderMiniflare(bindings, options = {}) {
  const build = join(root, "edge-worker", "build");
  return new Miniflare({
    ...options,
    workers: [{
      config: {
        name: "edge",
        compatibilityDate: "2026-11-01",
        manifest: {
          mainModule: "index.js",
          modulesRoot: build,
          modules: {
            "index.js": { type: "esm", contents: readFileSync(join(build, "index.js"), "utf8") },
            "index_bg.wasm": { type: "wasm", contents: new Uint8Array(readFileSync(join(build, "index_bg.wasm"))) },
          },
        },
        // As in wrangler.toml: the books' Durable Objects, on SQLite.
        exports: { Books: { type: "durable-object", storage: "sqlite" } },
        env: {
          DB: { type: "d1", id: "00000000-0000-0000-0000-00000000c0de" },
          BOOKS: { type: "durable-object", worker: "edge", exportName: "Books" },
          ...Object.fromEntries(Object.entries(bindings).map(([k, v]) => [k, { type: "text", value: v }])),
        },
      },
    }],
  });
}

/**
 * Builds both Workers and the widget, and makes sure test keys exist. `{ tests: true }` builds the
 * edge-worker's tests' build too (`edge-worker/build-test`, with its `/_test/…` routes).
 */
export function buildAll({ tests = false } = {}) {
  run("node", [join(root, "scripts", "devkeys.mjs")]);
  run("bash", [join(root, "scripts", "build-widget.sh")]);
  run("bash", [join(root, "scripts", "build-worker.sh"), "platform-sandbox"]);
  run("bash", [join(root, "scripts", "build-worker.sh"), "edge-worker"]);
  run("bash", [join(root, "scripts", "build-worker.sh"), "back-office"]);
  if (tests) run("bash", [join(root, "scripts", "build-worker.sh"), "edge-worker", "--test"]);
}

const workers = {
  sandbox: { config: join(root, "platform-sandbox", "wrangler.toml"), database: "wechatpay-sandbox" },
  edge: { config: join(root, "wrangler.toml"), database: "wechat-checkout" },
};

/**
 * The back office's config for one stack, written into `dir`: back-office/wrangler.toml with its
 * build's absolute path and no build step, beside a `.dev.vars` (wrangler reads it from the
 * config's folder) with the test secrets and the stack's development settings (in a multi-Worker
 * `wrangler dev`, `--var` reaches the first Worker only; `.dev.vars` values are never printed).
 */
function backOfficeConfig(dir, devVars) {
  const config = readFileSync(join(root, "back-office", "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(root, "back-office", "build", "index.js"))}`)
    .replace(/^\[build\]\ncommand = .*$/m, "");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "wrangler.toml"), config);
  const settings = Object.entries(devVars).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  writeFileSync(join(dir, ".dev.vars"), `${readFileSync(join(root, ".dev.vars"), "utf8")}\n${settings.join("\n")}\n`);
  return join(dir, "wrangler.toml");
}

/** `wrangler dev` of one Worker; `behind` are configs of Workers it reaches by service binding. */
function startWrangler(name, args, { persistTo, logDir, timeLimitSecs, echo, behind = [] }) {
  const { config, database } = workers[name];
  run(wrangler, ["d1", "migrations", "apply", database, "--local", "--persist-to", persistTo, "-c", config], { quiet: true });
  const argv = ["dev", "-c", config, ...behind.flatMap((c) => ["-c", c]), "--ip", "127.0.0.1", "--persist-to", persistTo, "--show-interactive-dev-session=false", ...args];
  // `timeout` leads the new process group; wrangler and its workerd processes are its children.
  const [cmd, cmdArgs] = timeLimitSecs
    ? ["timeout", ["--kill-after=10", String(timeLimitSecs), wrangler, ...argv]]
    : [wrangler, argv];
  // wrangler runs the [build] command from its working directory: the config's folder.
  const child = spawn(cmd, cmdArgs, {
    cwd: dirname(config),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WXC_PREBUILT: "1" },
  });
  const log = createWriteStream(join(logDir, `${name}.log`));
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipe(log, { end: false });
    if (echo) stream.on("data", (d) => process.stdout.write(d.toString().replace(/^(?=.)/gm, `[${name}] `)));
  }
  return child;
}

/** Fails fast if something already listens on `port` (another run would answer our tests). */
export async function assertPortFree(port) {
  const inUse = await new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
  if (inUse) throw new Error(`port ${port} on 127.0.0.1 is already in use: stop whatever runs there (another dev or test run?)`);
}

async function waitForPortFree(port, deadlineMs = 30_000) {
  const start = Date.now();
  for (;;) {
    try {
      return await assertPortFree(port);
    } catch (e) {
      if (Date.now() - start > deadlineMs) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function waitForHealth(url, child, name, deadlineMs = 90_000) {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} did not answer ${url}/health within ${deadlineMs / 1000} s`);
}

export async function stopGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the simulator and the edge-worker with the back office behind it (one `wrangler dev`,
 * one runtime: they share the local D1). Returns their URLs and `stop()`.
 * Options: edgePort, sandboxPort, persistTo (state folder), logDir, timeLimitSecs, echo,
 * edgeVars (extra settings of the edge-worker and the back office) and edgeBuild (`build`, the deployed build,
 * by default; `build-test`, the tests' build with its `/_test/…` routes).
 */
export async function startStack(opts) {
  const { edgePort, sandboxPort, persistTo, logDir } = opts;
  mkdirSync(logDir, { recursive: true });
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  for (const port of [edgePort, sandboxPort, edgePort + 1000, sandboxPort + 1000]) await assertPortFree(port);
  const children = {};
  const stop = async () => Promise.all(Object.values(children).map(stopGroup));
  let devVars = {
    WECHATPAY_API_BASE: sandboxUrl,
    NOTIFY_URL: `${edgeUrl}/v1/wechatpay/notify`,
    SANDBOX_CASHIER_URL: `${sandboxUrl}/cashier`,
    WECHAT_OAUTH_AUTHORIZE_BASE: sandboxUrl,
    WECHAT_OAUTH_API_BASE: sandboxUrl,
    // Development configuration: wrangler.toml is production-shaped and has neither.
    DEMO_SHOP: "on",
    ...opts.edgeVars,
  };
  const edgeArgs = () => [
    // The script to run: wrangler.toml's `main` is the deployed build.
    join(root, "edge-worker", opts.edgeBuild ?? "build", "index.js"),
    "--port", String(edgePort),
    "--inspector-port", String(edgePort + 1000),
    // `GET /__scheduled` fires the cron (wrangler dev fires none by itself): its sweep is tested.
    "--test-scheduled",
    ...Object.entries(devVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const startEdge = () => {
    const behind = [backOfficeConfig(join(persistTo, "back-office-config"), devVars)];
    children.edge = startWrangler("edge", edgeArgs(), { ...opts, behind, persistTo: join(persistTo, "edge") });
    return waitForHealth(edgeUrl, children.edge, "edge");
  };
  try {
    children.sandbox = startWrangler("sandbox", ["--port", String(sandboxPort), "--inspector-port", String(sandboxPort + 1000)], {
      ...opts,
      persistTo: join(persistTo, "sandbox"),
    });
    await Promise.all([waitForHealth(sandboxUrl, children.sandbox, "sandbox"), startEdge()]);
  } catch (e) {
    await stop();
    throw e;
  }
  const startEdgeAgain = async () => {
    await Promise.all([waitForPortFree(edgePort), waitForPortFree(edgePort + 1000)]);
    await startEdge();
  };
  /** Kills the edge-worker's runtime (wrangler and workerd, its whole process group) with
   * SIGKILL, as a crash would, and starts it again on the same port and state. */
  const crashEdge = async () => {
    const edge = children.edge;
    const exited = new Promise((r) => edge.once("exit", r));
    process.kill(-edge.pid, "SIGKILL");
    await exited;
    await startEdgeAgain();
  };
  /** Stops the edge-worker (with the back office behind it) and starts it again on the same
   * port and state with `vars` over its settings, as a deploy with other settings would. */
  const redeployEdge = async (vars) => {
    await stopGroup(children.edge);
    devVars = { ...devVars, ...vars };
    await startEdgeAgain();
  };
  return { edgeUrl, sandboxUrl, stop, crashEdge, redeployEdge, pids: () => Object.values(children).map((c) => c.pid) };
}
