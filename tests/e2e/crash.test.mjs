// Crash safety (issue #9, part 3): during a stream of payments and notifications the
// edge-worker's runtime (wrangler and workerd, its whole process group) is killed with SIGKILL
// at random moments and started again on the same state, several times, while the simulator
// keeps retrying its notifications on WeChat Pay's schedule (sped up). At the end every payment
// the simulator considers successful is paid exactly once in D1, and every merchant webhook
// event reached the receiver at least once and was applied once. Ports 14787/14788.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { approveAtCashier, books, edgeFault, eventId, NO_RATE_LIMITS, platformRecords, startAll, until, webhookReceiver } from "./support.mjs";

const PAYMENTS = Number(process.env.CRASH_PAYMENTS ?? 80);
const CRASHES = Number(process.env.CRASHES ?? 4);
const CONCURRENCY = 3;
const MCHID = "1230000109";
const WEBHOOK_SECRET = "whsec_crash_0123456789abcdef";
const receiver = webhookReceiver(WEBHOOK_SECRET);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let env;

/**
 * A merchant's client that keeps at it through an outage, as one should: network errors, 5xx
 * and "in progress" are retried (the same Idempotency-Key on creates), anything else is the
 * answer. `retried` counts the retries for the summary.
 */
const stats = { retried: 0, notWorker: [] };
async function persistently(what, attempt) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const res = await attempt();
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        // Not the Worker's answer (every answer of it is JSON): wrangler's proxy while the
        // runtime restarts. Kept for the summary.
        stats.notWorker.push(`${res.status} ${text.slice(0, 80)}`);
        throw new Error("not the Worker");
      }
      const inProgress = res.status === 409 && body.error?.code === "idempotency_in_progress";
      if (res.status < 500 && !inProgress) return { status: res.status, body };
    } catch {
      // connection refused or reset: the Worker is down
    }
    if (Date.now() > deadline) throw new Error(`${what}: no answer for 180 s`);
    stats.retried++;
    await sleep(250 + Math.random() * 500);
  }
}

async function onePayment(i) {
  const { edgeUrl, sandboxUrl } = env.stack;
  const merchant = { Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json" };
  const created = await persistently(`create ${i}`, () => fetch(`${edgeUrl}/v1/checkout/sessions`, {
    method: "POST",
    headers: { ...merchant, "Idempotency-Key": `crash-order-${i}` },
    body: JSON.stringify({ amount_fen: 100 + i, description: `Crash test order ${i}`, out_trade_no: `CRASH${String(i).padStart(6, "0")}` }),
  }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const session = created.body;
  const paid = await persistently(`pay ${i}`, () => fetch(`${edgeUrl}/v1/widget/sessions/${session.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scene: "native" }),
  }));
  assert.equal(paid.status, 200, JSON.stringify(paid.body));
  assert.ok(paid.body.code_url, `pay ${i} answered ${JSON.stringify(paid)}`);
  // The payer approves at WeChat Pay (the simulator, which never goes down here).
  assert.match(await approveAtCashier(sandboxUrl, paid.body.code_url), /SUCCESS/);
}

describe("crash safety", { timeout: 900_000 }, () => {
  before(async () => {
    const port = await receiver.listen();
    receiver.up = true;
    env = await startAll({
      edgePort: 14787,
      sandboxPort: 14788,
      edgeVars: {
        WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
        WEBHOOK_SECRET,
        WEBHOOK_RETRY_BASE_SECS: "1",
        ...NO_RATE_LIMITS,
      },
    });
    // WeChat Pay's retry schedule at 1/50 speed: 15 s → 0.3 s, 30 min → 36 s.
    const settings = await fetch(`${env.stack.sandboxUrl}/sandbox/settings`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ time_scale: 0.02 }) });
    assert.equal(settings.status, 200);
  }, { timeout: 600_000 });

  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
    await receiver.close();
  });

  test("a create that died between its work and its answer is finished by its retry, not made twice", async () => {
    const key = "crash-died-after-work";
    const create = () => fetch(`${env.stack.edgeUrl}/v1/checkout/sessions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}`, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ amount_fen: 777, description: "Died after its work" }),
    });
    const first = await (await create()).json();
    // What a crash right after the session's insert leaves: the claim without its answer.
    await edgeFault(env.stack, "unanswered-idempotency-key", { key: `create_session:${key}` });
    const early = await create();
    assert.equal(early.status, 409, "within the lease the first request may still be running");
    assert.equal((await early.json()).error.code, "idempotency_in_progress");
    await edgeFault(env.stack, "unanswered-idempotency-key", { key: `create_session:${key}`, secs_ago: 31 });
    const retried = await create();
    assert.equal(retried.status, 201);
    const again = await retried.json();
    assert.deepEqual([again.id, again.client_secret], [first.id, first.client_secret], "the same session, the same secret");
    const replay = await create();
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal((await replay.json()).id, first.id);
    assert.equal((await books(env.stack, "sessions", { description: "Died after its work" })).length, 1);
  });

  test("SIGKILLs of the edge runtime mid-flight lose nothing and apply nothing twice", async () => {
    const started = Date.now();
    let next = 0;
    const streams = Array.from({ length: CONCURRENCY }, async () => {
      while (next < PAYMENTS) await onePayment(next++);
    });
    // The killer: random moments while the stream flows.
    const crashes = [];
    const killer = (async () => {
      for (let c = 0; c < CRASHES; c++) {
        await sleep(1000 + Math.random() * 3000);
        crashes.push(((Date.now() - started) / 1000).toFixed(1));
        await env.stack.crashEdge();
      }
    })();
    await Promise.all([...streams, killer]);
    assert.equal(crashes.length, CRASHES);

    // WeChat Pay's side: every payment succeeded there, and (retrying on its schedule) every
    // notification was finally acknowledged.
    const success = await platformRecords(env.stack, "transactions", { mchid: MCHID, trade_state: "SUCCESS" });
    assert.equal(success.length, PAYMENTS, "every payment succeeded at WeChat Pay");
    await until("every notification acknowledged", async () => {
      const log = await platformRecords(env.stack, "notifications", { mchid: MCHID });
      return log.every((n) => n.state === "delivered");
    }, 240_000);
    const tried = (await platformRecords(env.stack, "notifications", { mchid: MCHID })).flatMap((n) => n.attempts);
    const attempts = { total: tried.length, failed: tried.filter((a) => a.http_status === null || a.http_status >= 300).length };
    assert.ok(attempts.failed > 0, "some deliveries met the Worker down (the crashes happened mid-flight)");

    // Our books: each of them paid exactly once, with WeChat Pay's transaction, and no session
    // more than the payments (retried creates made none).
    const ourSessions = (await books(env.stack, "sessions")).filter((r) => r.out_trade_no.startsWith("CRASH"));
    const booked = new Map(ourSessions.map((r) => [r.out_trade_no, r]));
    assert.equal(booked.size, PAYMENTS, "one session per payment");
    assert.equal(ourSessions.length, PAYMENTS, "no out_trade_no twice");
    for (const { out_trade_no, transaction_id } of success) {
      const ours = booked.get(out_trade_no);
      assert.deepEqual([ours?.status, ours?.transaction_id], ["paid", transaction_id], out_trade_no);
    }
    const paidEvents = (await books(env.stack, "events", { kind: "paid" })).map((e) => e.session_id);
    // (The session of the test before is open: it has no paid event.)
    assert.equal(new Set(paidEvents).size, PAYMENTS);
    assert.equal(paidEvents.length, PAYMENTS, "one paid event per session");

    // Webhooks: the outbox drained (the scheduled run delivers what the crashes interrupted);
    // every event reached the receiver, which applied each once.
    const merchant = { Authorization: `Bearer ${env.edgeVars.MERCHANT_SECRET_KEY}` };
    await until("the webhook outbox drained", async () => {
      await fetch(`${env.stack.edgeUrl}/v1/admin/run-scheduled`, { method: "POST", headers: merchant });
      return (await books(env.stack, "outbox")).every((o) => o.delivered_at !== null);
    }, 120_000);
    const events = await books(env.stack, "events");
    for (const event of events) assert.ok(receiver.seen.has(eventId(event)), `event ${eventId(event)} reached the receiver`);
    assert.equal(receiver.seen.size, events.length, "no event the books do not have");
    assert.equal(receiver.forged, 0);
    const paidSeen = [...receiver.seen.values()].filter((e) => e.type === "checkout.session.paid").length;
    assert.equal(paidSeen, PAYMENTS, "the receiver applied one paid event per payment");
    console.log(`[crash] ${PAYMENTS} payments, ${CRASHES} SIGKILLs of the edge runtime (at ${crashes.join(", ")} s) and restarts; ` +
      `client retries ${stats.retried} (${stats.notWorker.length} answers not from the Worker while it restarted${stats.notWorker.length ? `: ${JSON.stringify(stats.notWorker[0])}` : ""}); notifications: ${attempts.total} attempts, ${attempts.failed} failed while the Worker was down, all acknowledged; ` +
      `${PAYMENTS} of ${PAYMENTS} paid exactly once; webhooks: ${events.length} events, ${receiver.deliveries} deliveries, ${receiver.seen.size} applied once ` +
      `(${receiver.deliveries - receiver.seen.size} duplicates absorbed by the receiver)`);
  });
});
