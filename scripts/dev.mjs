// `make dev`: builds everything, writes test keys if missing, starts the simulator and the
// edge-worker (with the back office behind it) on 127.0.0.1 with local D1, and prints the demo
// shop's URL. Ctrl-C stops it all.
import { join } from "node:path";
import { buildAll, root, startStack } from "./stack.mjs";

const edgePort = Number(process.env.EDGE_PORT ?? 8787);
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 8788);

buildAll();
const stack = await startStack({
  edgePort,
  sandboxPort,
  persistTo: join(root, ".wrangler", "state"),
  logDir: join(root, ".wrangler", "logs"),
  echo: process.env.VERBOSE === "1",
});
console.log(`
  Demo shop:          ${stack.edgeUrl}/
  Merchant API:       ${stack.edgeUrl}/v1/checkout/sessions   (Bearer MERCHANT_SECRET_KEY from .dev.vars)
  WeChat Pay sandbox: ${stack.sandboxUrl}/cashier
  Logs:               .wrangler/logs/{edge,sandbox}.log   (edge.log has the back office's too)

  Press Ctrl-C to stop.
`);
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    await stack.stop();
    process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
