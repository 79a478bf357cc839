// A deployment whose books are in D1 (BOOKS_IN = "d1", as the code before the objects kept
// them) moves them into the objects: redeployed with BOOKS_IN = "moving", which holds every
// other use of the books, it runs POST /v1/admin/books/move until done, stopped and resumed on
// the way and then run again from the start, with the counts and sums per status of both
// sides compared; redeployed with BOOKS_IN = "objects", every order goes on from where it was.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { books, eventKinds, merchantClient, payerPays, startAll, until } from "./support.mjs";

let env;

describe("the books move from D1 into the objects", { timeout: 900_000 }, () => {
  before(async () => {
    env = await startAll({ edgePort: 2787, sandboxPort: 2788, shards: 1, edgeVars: { BOOKS_IN: "d1" } });
  }, { timeout: 600_000 });
  after(async () => {
    await env?.browser.close();
    await env?.stack.stop();
  });

  const client = () => merchantClient(env);
  const move = (body = {}) => client().request("POST", "/v1/admin/books/move", body);
  /** Moves until done; every step's answer. */
  const moveAll = async (first = {}) => {
    const steps = [];
    for (let body = first; ; body = {}) {
      const r = await move(body);
      assert.equal(r.status, 200, r.text);
      steps.push(r.body);
      if (r.body.done) return steps;
      assert.ok(steps.length < 200, "the move ends");
    }
  };
  const refund = (session_id, amount_fen, key) =>
    client().request("POST", "/v1/refunds", { session_id, amount_fen }, key ? { "Idempotency-Key": key } : {});

  test("moved, resumed, run again: both sides agree, and every order goes on", async () => {
    // The books as today's code keeps them in D1: paid, refunded, closed, open with a prepay.
    const paid = [];
    for (const amount of [1200, 3400, 560]) {
      const s = await client().createSession({ amount_fen: amount, description: "Moved" });
      await payerPays(env.stack, s);
      await until("paid", async () => (await client().session(s.id)).status === "paid");
      paid.push(s);
    }
    const refunded = await refund(paid[0].id, 200, "move-refund-1");
    assert.equal(refunded.status, 201, refunded.text);
    await until("the refund succeeded", async () => (await client().request("GET", `/v1/refunds/${refunded.body.id}`)).body.status === "succeeded");
    const closed = await client().createSession({ amount_fen: 700, description: "Moved, closed" });
    assert.equal((await client().request("POST", `/v1/checkout/sessions/${closed.id}/close`, {})).status, 200);
    const open = await client().createSession({ amount_fen: 990, description: "Moved, open" }, { "Idempotency-Key": "move-create-1" });
    const prepaid = await fetch(`${env.stack.edgeUrl}/v1/widget/sessions/${open.id}/pay`, {
      method: "POST",
      headers: { Authorization: `Bearer ${open.client_secret}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scene: "native" }),
    });
    assert.equal(prepaid.status, 200);
    const listed = async () => (await client().request("GET", "/v1/checkout/sessions?limit=100")).body.data.map((s) => [s.id, s.status]);
    const before = await listed();
    assert.equal(before.length, 5);
    const timeline = await eventKinds(env.stack, paid[0].id);
    assert.equal((await move()).body.error.code, "books_not_moving", "no move while the books are in use");

    // Held: every route of the books answers 503 books_moving, and only the move works.
    await env.stack.redeployEdge({ BOOKS_IN: "moving" });
    const held = await client().request("GET", `/v1/checkout/sessions/${open.id}`);
    assert.equal(held.status, 503);
    assert.equal(held.body.error.code, "books_moving");
    assert.equal(held.headers.get("retry-after"), "60");
    const notify = await fetch(`${env.stack.edgeUrl}/v1/wechatpay/notify`, { method: "POST", body: "{}" });
    assert.equal(notify.status, 503, "WeChat Pay is asked to send its notification again");
    assert.equal((await notify.json()).code, "FAIL");
    assert.equal((await move({ limit: 0 })).body.error.code, "invalid_limit");

    // Moved two rows a page; stopped after three pages (the Workers restarted), then resumed.
    const firstSteps = [];
    for (let i = 0; i < 3; i++) firstSteps.push((await move({ limit: 2 })).body);
    assert.deepEqual(firstSteps.map((s) => [s.table, s.rows, s.copied]), [
      ["checkout_sessions", 2, 2], ["checkout_sessions", 2, 2], ["checkout_sessions", 1, 1],
    ]);
    await env.stack.redeployEdge({});
    const steps = await moveAll({ limit: 2 });
    const done = steps.at(-1);
    assert.ok(steps.slice(0, -1).every((s) => s.copied === s.rows), "each row copied once");
    assert.equal(done.agree, true, JSON.stringify(done));
    assert.deepEqual(done.objects, done.d1);
    const sessions = Object.fromEntries(done.d1.filter((t) => t.table === "checkout_sessions").map((t) => [t.part, [t.count, t.fen]]));
    assert.deepEqual(sessions, { paid: [3, 1200 + 3400 + 560], closed: [1, 700], open: [1, 990] });
    assert.deepEqual(done.d1.find((t) => t.table === "refunds"), { table: "refunds", part: "succeeded", count: 1, fen: 200 });
    const progress = Object.fromEntries(done.progress.map((p) => [p.table_name, p]));
    assert.equal(progress.checkout_sessions.rows_copied, 5);
    assert.ok(progress.order_events.rows_copied >= 5 + 3 + 2, JSON.stringify(progress));

    // Run again from the start: nothing is copied twice, and both sides still agree.
    const again = await moveAll({ from_start: true });
    assert.ok(again.length > 1 && again.slice(0, -1).every((s) => s.copied === 0), JSON.stringify(again));
    assert.equal(again.at(-1).agree, true);

    // In the objects: the same orders, and each goes on where it was.
    await env.stack.redeployEdge({ BOOKS_IN: "objects" });
    assert.equal((await move()).body.error.code, "books_not_moving");
    assert.deepEqual(await listed(), before, "the listing, from the objects");
    assert.deepEqual(await eventKinds(env.stack, paid[0].id), timeline, "the timeline, in order");
    const replay = await client().request("POST", "/v1/checkout/sessions", { amount_fen: 990, description: "Moved, open" }, { "Idempotency-Key": "move-create-1" });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.body.id, open.id);
    const over = await refund(paid[0].id, 1001);
    assert.equal(over.status, 409, "what was refunded before the move still counts");
    assert.equal(over.body.error.code, "refund_exceeds_payment");
    const rest = await refund(paid[0].id, 1000);
    assert.equal(rest.status, 201, rest.text);
    await until("the second refund succeeded", async () => (await client().request("GET", `/v1/refunds/${rest.body.id}`)).body.status === "succeeded");
    const { code_url } = await prepaid.json();
    const pr = new URL(code_url).searchParams.get("pr");
    const cashier = await fetch(`${env.stack.sandboxUrl}/cashier/pay`, { method: "POST", body: new URLSearchParams({ pr, card: "icbc-debit", action: "approve" }) });
    assert.match(await cashier.text(), /SUCCESS/);
    await until("the open order, paid after the move", async () => (await client().session(open.id)).status === "paid");
    const [row] = await books(env.stack, "sessions", { id: open.id });
    assert.match(row.transaction_id, /^4200/);
    const fresh = await client().createSession({ amount_fen: 100, description: "After the move" });
    await payerPays(env.stack, fresh);
    await until("a new order paid", async () => (await client().session(fresh.id)).status === "paid");
    const seqs = (await books(env.stack, "events")).map((e) => e.seq);
    assert.equal(new Set(seqs).size, seqs.length, "event numbers stay unique after the moved ones");
  });
});
