// The books in four shards (issue #18): an order lives in the shard its out_trade_no hashes to
// (FNV-1a, computed here independently of pay-core), its ids name that shard, and everything of
// it is found with no lookup; the listing pages through every shard in one order; a payment, a
// refund and their webhooks in a shard other than 0; an idempotent retry lands in the same shard;
// a payer's budget counted exactly across sessions of different shards; each shard's alarm doing
// its own due work (webhook retries, a refund whose answer and notification were lost) with no
// cron, and keeping its books when it is done; the listing projected from every shard's events
// into D1 (a moment behind, replayed idempotently); the cron's sweep reaching a session whose own
// alarm was lost.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { approveAtCashier, books, edgeFault, eventKinds, listingCaughtUp, merchantClient, NO_RATE_LIMITS, payerPays, shardHolds, startAll, until, webhookReceiver } from "./support.mjs";

const SHARDS = 4;
const WEBHOOK_SECRET = "whsec_shards_test_secret_0123456789";
const receiver = webhookReceiver(WEBHOOK_SECRET);
let env;
let merchant;

before(async () => {
  const port = await receiver.listen();
  receiver.up = true;
  env = await startAll({
    edgePort: 20787,
    sandboxPort: 20788,
    shards: SHARDS,
    edgeVars: {
      ...NO_RATE_LIMITS,
      WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
      WEBHOOK_SECRET,
      WEBHOOK_RETRY_BASE_SECS: "1",
      // Two payments per client address an hour: counted in the address's shard, whichever
      // shards hold the sessions that spend it.
      RISK_IP_HOURLY: "2/0",
      // A session that expires in seconds, for the cron's sweep.
      MIN_SESSION_TTL_SECS: "2",
    },
  });
  merchant = merchantClient(env);
}, { timeout: 600_000 });
after(async () => {
  await env?.browser.close();
  await env?.stack.stop();
  await receiver.close();
});

/** FNV-1a, 64 bits, over the UTF-8 bytes: the shard of a key, as an independent implementation. */
function shardOf(key, count = SHARDS) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(key, "utf8")) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return Number(h % BigInt(count));
}

/** The shard an id names: `cs_3_…` is shard 3, `cs_…` shard 0. */
function shardNamed(id) {
  const m = id.match(/^[a-z]+_(?:([1-9][0-9]*)_)?[^_]+$/);
  assert.ok(m, `an id of the sharded form: ${id}`);
  return Number(m[1] ?? 0);
}

const shards = async () => {
  const r = await fetch(`${env.stack.edgeUrl}/_test/shards`);
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).shards;
};

const made = [];
test("orders spread over the shards by their out_trade_no, and each is found by its id alone", { timeout: 120_000 }, async () => {
  // The published FNV-1a vector: "foobar" is 0x85944171f73967e8, and so shard 0 of 4.
  assert.equal(shardOf("foobar"), Number(0x85944171f73967e8n % 4n));
  const before = await shards();
  assert.equal(before.length, SHARDS);
  for (let i = 0; i < 40; i++) {
    // Half with the merchant's own numbers, half with numbers the Worker makes.
    const fields = { amount_fen: 100 + i, description: `spread ${i}` };
    if (i % 2 === 0) fields.out_trade_no = `SPREAD${String(i).padStart(4, "0")}`;
    made.push(await merchant.createSession(fields));
  }
  for (const s of made) {
    assert.equal(shardNamed(s.id), shardOf(s.out_trade_no), `${s.id} names the shard of ${s.out_trade_no}`);
    assert.equal((await merchant.session(s.id)).out_trade_no, s.out_trade_no);
  }
  const after = await shards();
  const added = after.map((s, i) => s.sessions - before[i].sessions);
  assert.equal(added.reduce((a, b) => a + b, 0), 40);
  // 10 each if perfectly even: every shard holds some of them.
  assert.ok(added.every((n) => n >= 3), `every shard holds some of the 40: ${added}`);
  for (let shard = 0; shard < SHARDS; shard++) {
    assert.equal(added[shard], made.filter((s) => shardNamed(s.id) === shard).length, `shard ${shard} holds the orders that name it`);
  }
});

test("the listing pages through every shard, newest first, none missed or twice", { timeout: 60_000 }, async () => {
  assert.equal(made.length, 40, "the sessions of the first test");
  await listingCaughtUp(env.stack);
  const seen = [];
  let after;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ limit: "7", ...(after ? { starting_after: after } : {}) });
    const list = await merchant.request("GET", `/v1/checkout/sessions?${q}`);
    assert.equal(list.status, 200, list.text);
    seen.push(...list.body.data);
    if (!list.body.has_more) break;
    after = list.body.data.at(-1).id;
  }
  const ids = seen.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length, "no session twice");
  for (const s of made) assert.ok(ids.includes(s.id), `${s.id} is listed`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].created_at >= seen[i].created_at, "newest first");
  // Search finds an order in whichever shard it is.
  const found = await merchant.request("GET", `/v1/checkout/sessions?${new URLSearchParams({ limit: "100" })}`);
  assert.ok(found.body.data.length >= 40);
});

test("a payment, a refund and their webhooks in a shard other than 0 name it", { timeout: 120_000 }, async () => {
  const session = made.find((s) => shardNamed(s.id) > 0);
  const shard = shardNamed(session.id);
  const from = { "CF-Connecting-IP": "203.0.113.200" };
  const pay = await fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${session.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${session.client_secret}`, "Content-Type": "application/json", ...from },
    body: JSON.stringify({ scene: "native" }),
  });
  assert.equal(pay.status, 200, await pay.clone().text());
  assert.match(await approveAtCashier(env.stack.sandboxUrl, (await pay.json()).code_url), /SUCCESS/);
  await until("the notification to mark it paid", async () => (await merchant.session(session.id)).status === "paid", 20_000);
  const refund = await merchant.request("POST", "/v1/refunds", { session_id: session.id, amount_fen: 50 });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(shardNamed(refund.body.id), shard, "the refund's id names its order's shard");
  await until("the refund to succeed", async () => (await merchant.request("GET", `/v1/refunds/${refund.body.id}`)).body.status === "succeeded", 30_000);
  const kinds = await eventKinds(env.stack, session.id);
  for (const kind of ["created", "paid", "refund_succeeded"]) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  // Its webhooks, delivered by the scheduled run, carry ids of its shard.
  await until("the webhooks to arrive", async () => {
    await merchant.request("POST", "/v1/admin/run-scheduled", {});
    return [...receiver.seen.values()].filter((e) => e.data.session?.id === session.id && e.type === "refund.succeeded").length === 1;
  }, 30_000);
  const ids = [...receiver.seen.entries()].filter(([, e]) => e.data.session?.id === session.id).map(([id]) => id);
  assert.ok(ids.length >= 4, ids.join());
  for (const id of ids) assert.match(id, new RegExp(`^evt_${shard}_[0-9]+$`));
  // A notification's record is kept once, in the shard its id hashes to.
  assert.ok((await books(env.stack, "notifications_received", { event_type: "TRANSACTION.SUCCESS" })).length >= 1);
});

test("an idempotent create retried without an out_trade_no lands in the same shard, once", { timeout: 60_000 }, async () => {
  const create = () => merchant.request("POST", "/v1/checkout/sessions", { amount_fen: 901, description: "retried" }, { "Idempotency-Key": "shards-retry-1" });
  const first = await create();
  const again = await create();
  assert.equal(first.status, 201, first.text);
  assert.equal(again.status, 201, again.text);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.body.id, first.body.id);
  assert.equal(again.body.client_secret, first.body.client_secret, "the replay's client secret is the session's own");
  assert.equal(shardNamed(first.body.id), shardOf(first.body.out_trade_no));
  assert.equal((await books(env.stack, "sessions", { description: "retried" })).length, 1);
});

test("a client address's budget is exact across sessions of different shards", { timeout: 60_000 }, async () => {
  const from = { "CF-Connecting-IP": "198.51.100.77" };
  // Three fresh sessions in three different shards.
  const picked = [];
  for (let i = 0; picked.length < 3 && i < 100; i++) {
    const out = `BUDGET${i}`;
    if (picked.some((p) => shardOf(p) === shardOf(out))) continue;
    picked.push(out);
  }
  const sessions = [];
  for (const out of picked) sessions.push(await merchant.createSession({ amount_fen: 300, description: `budget ${out}`, out_trade_no: out }));
  assert.equal(new Set(sessions.map((s) => shardNamed(s.id))).size, 3);
  const pay = (s) => fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${s.id}/pay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${s.client_secret}`, "Content-Type": "application/json", ...from },
    body: JSON.stringify({ scene: "native" }),
  });
  const answers = await Promise.all(sessions.map(pay));
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [200, 200, 429], "two fit the address's budget, the third does not, concurrently");
  const attempts = await books(env.stack, "payment_attempts", { subject: "ip:198.51.100.77" });
  assert.equal(attempts.length, 2, "counted once each, in one shard");
});

/** The due work shard `n`'s object holds (`/_test/objects/due?shard=`). */
const dueIn = async (n) => (await (await fetch(`${env.stack.edgeUrl}/_test/objects/due?shard=${n}`)).json()).due;

/** An out_trade_no for each shard, from `prefix`. */
function onePerShard(prefix) {
  const picked = new Map();
  for (let i = 0; picked.size < SHARDS; i++) {
    const out = `${prefix}${i}`;
    if (!picked.has(shardOf(out))) picked.set(shardOf(out), out);
  }
  return [...picked.entries()].sort(([a], [b]) => a - b).map(([, out]) => out);
}

test("each shard's alarm retries its webhooks with no cron, then keeps its books", { timeout: 120_000 }, async () => {
  receiver.up = false;
  try {
    const sessions = [];
    for (const out of onePerShard("ALARM")) sessions.push(await merchant.createSession({ amount_fen: 500, description: `alarm ${out}`, out_trade_no: out }));
    assert.deepEqual(sessions.map((s) => shardNamed(s.id)), [0, 1, 2, 3]);
    // Each create's delivery failed: each shard's object holds its due work.
    for (let n = 0; n < SHARDS; n++) {
      await until(`shard ${n}'s object to hold its retry`, async () => (await dueIn(n)).some((d) => d.kind === "shard" && d.subject === String(n)), 20_000);
    }
    receiver.up = true;
    // Nothing here asks for run-scheduled, and wrangler dev fires no cron: the alarms deliver.
    const delivered = (s) => [...receiver.seen.values()].some((e) => e.type === "checkout.session.created" && e.data.session?.id === s.id);
    await until("every shard's webhook delivered by its own alarm", async () => sessions.every(delivered), 60_000);
    await until("every shard's due work done", async () => (await Promise.all(sessions.map((_, n) => dueIn(n)))).every((d) => d.length === 0), 60_000);
    // A delivery failed before the one that arrived (an attempt counts each).
    for (const s of sessions) {
      const [created] = await books(env.stack, "events", { session_id: s.id, kind: "created" });
      const [row] = (await books(env.stack, "outbox", { event_seq: created.seq })).filter((o) => o.shard === created.shard);
      assert.ok(row.attempts >= 2 && row.delivered_at !== null, `${s.id}: failed, then delivered (${JSON.stringify(row)})`);
    }
    // Done, a shard's object keeps its books (a spent subject's object forgets itself; a shard never).
    for (const s of sessions) assert.equal((await merchant.session(s.id)).out_trade_no, s.out_trade_no);
  } finally {
    receiver.up = true;
  }
});

test("a shard's alarm asks about a refund whose answer and notification were lost, with no cron", { timeout: 180_000 }, async () => {
  const fault = async (kind, extra = {}) => {
    const r = await fetch(`${env.stack.sandboxUrl}/sandbox/faults`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ kind, mchid: "1230000109", ...extra }) });
    assert.equal(r.status, 200, await r.text());
  };
  const [, out] = onePerShard("LOSTREFUND");
  const session = await merchant.createSession({ amount_fen: 800, description: "lost refund", out_trade_no: out });
  assert.equal(shardNamed(session.id), 1);
  await payerPays(env.stack, session);
  await until("paid", async () => (await merchant.session(session.id)).status === "paid", 20_000);
  await fault("refund_no_answer", { param: 12_000 }); // past the Worker's 10 s timeout
  await fault("drop_notification");
  const refund = await merchant.request("POST", "/v1/refunds", { session_id: session.id, amount_fen: 300 });
  assert.equal(refund.status, 201, refund.text);
  assert.equal(shardNamed(refund.body.id), 1);
  // Neither the answer nor the notification came: the shard's alarm asks WeChat Pay, a minute
  // after the refund was recorded (pay_core::shard::refund_wait_secs).
  assert.equal(refund.body.status, "pending", "no answer: the outcome is unknown");
  assert.ok((await dueIn(1)).some((d) => d.kind === "shard"), "its shard holds the refund's due work");
  await until("the refund settled by its shard's alarm", async () => (await merchant.request("GET", `/v1/refunds/${refund.body.id}`)).body.status === "succeeded", 100_000);
  await fetch(`${env.stack.sandboxUrl}/sandbox/faults`, { method: "DELETE" });
});

/** Every order the listing holds, paged through: id → status. */
async function listedStatuses() {
  const listed = new Map();
  let after;
  for (;;) {
    const q = new URLSearchParams({ limit: "100", ...(after ? { starting_after: after } : {}) });
    const list = await merchant.request("GET", `/v1/checkout/sessions?${q}`);
    assert.equal(list.status, 200, list.text);
    for (const s of list.body.data) {
      assert.ok(!listed.has(s.id), `${s.id} listed once`);
      listed.set(s.id, s.status);
    }
    if (!list.body.has_more) return listed;
    after = list.body.data.at(-1).id;
  }
}

/** Fires the cron, as Cloudflare would every minute (`wrangler dev --test-scheduled`). */
async function cron() {
  const r = await fetch(`${env.stack.edgeUrl}/__scheduled`);
  assert.equal(r.status, 200, await r.text());
}

test("the listing is D1's projection of the shards' events: a moment behind them, every order in it, a replay changes nothing", { timeout: 120_000 }, async () => {
  const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => merchant.createSession({ amount_fen: 300 + i, description: `burst ${i}` })));
  assert.equal(new Set(burst.map((s) => shardNamed(s.id))).size, SHARDS, "the burst reaches every shard");
  const waited = await listingCaughtUp(env.stack);
  console.log(`[shards] the listing held 24 new orders over ${SHARDS} shards ${waited} ms after the last was made`);
  const booked = new Map((await books(env.stack, "sessions")).map((s) => [s.id, s.status]));
  assert.deepEqual(await listedStatuses(), booked, "the listing holds every order of every shard, each as its books say");
  // A change reaches it too: a close, in whichever shard.
  const closing = burst.find((s) => shardNamed(s.id) === 2);
  assert.equal((await merchant.request("POST", `/v1/checkout/sessions/${closing.id}/close`, {})).status, 200);
  await listingCaughtUp(env.stack);
  assert.equal((await listedStatuses()).get(closing.id), "closed");
  booked.set(closing.id, "closed");

  // Every shard's progress set back to its start: the cron's sweep wakes each shard, which
  // projects all its events again; the listing is what it was, each order once.
  for (let n = 0; n < SHARDS; n++) await edgeFault(env.stack, "rewind-listing", { shard: n });
  assert.ok((await shardHolds(env.stack)).every((s) => s.listed_up_to === 0));
  await cron();
  await listingCaughtUp(env.stack, 30_000);
  assert.deepEqual(await listedStatuses(), booked, "replayed: the same orders, the same statuses");
});

test("the cron's sweep reaches a session whose own alarm was lost, through its shard's object", { timeout: 180_000 }, async () => {
  const [, , , out] = onePerShard("LOSTALARM");
  const session = await merchant.createSession({ amount_fen: 900, description: "lost alarm", out_trade_no: out, expires_in: 2 });
  assert.equal(shardNamed(session.id), 3);
  await edgeFault(env.stack, "lost-alarm", { session: session.id });
  // Due at its expiry; the sweep takes what has been due for a minute (its own alarm would have
  // settled it by then): until that minute has passed, nothing closes it.
  const { expires_at } = await merchant.session(session.id);
  await until("a minute past the session's expiry", async () => Date.now() / 1000 > expires_at + 61, 90_000);
  assert.equal((await merchant.session(session.id)).status, "open", "its alarm was lost: nothing closed it");
  await cron();
  await until("the sweep to close it", async () => (await merchant.session(session.id)).status === "closed", 20_000);
  assert.deepEqual(await eventKinds(env.stack, session.id), ["created", "closed"]);
});
