"""The books' schema in the objects (checkout-service/src/objects/books_schema.sql) is D1's, as
D1's migrations leave it (migrations/): the same tables, columns, checks, indexes and triggers,
so that every invariant D1 enforces holds in the objects too (the later steps that change them
are D1's migration files, applied by the objects as they are). Both are applied to an empty
SQLite and what sqlite_master holds for the books' tables compared, statement by statement."""
import glob
import os
import sqlite3
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOKS = ["checkout_sessions", "order_events", "webhook_outbox", "refunds", "idempotency_keys",
         "payment_attempts", "notifications_received"]


def schema(db):
    rows = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN (%s) ORDER BY type, name"
        % ",".join("?" * len(BOOKS)), BOOKS).fetchall()
    # D1 keeps a table rebuilt by a migration under its quoted name.
    return [(t, n, s.replace('CREATE TABLE "refunds"', "CREATE TABLE refunds")) for t, n, s in rows]


d1 = sqlite3.connect(":memory:")
for migration in sorted(glob.glob(os.path.join(root, "migrations", "*.sql"))):
    d1.executescript(open(migration).read())
objects = sqlite3.connect(":memory:")
objects.executescript(open(os.path.join(root, "checkout-service", "src", "objects", "books_schema.sql")).read())
# The objects' later steps that change the books are D1's own migration files (objects/mod.rs).
for step in ["0018_attempts_by_subject.sql", "0019_sessions_in_creation_order.sql"]:
    objects.executescript(open(os.path.join(root, "migrations", step)).read())
expected, held = schema(d1), schema(objects)
if expected != held:
    for a, b in zip(expected, held):
        if a != b:
            print("D1:     ", a, "\nobjects:", b, file=sys.stderr)
    sys.exit(f"the objects' books schema differs from D1's ({len(held)} against {len(expected)} statements)")
print(f"[books schema] the objects' books schema is D1's: {len(held)} tables, indexes and triggers alike")

# Step 4 (migration 0018) rebuilds payment_attempts: the attempts a database held are kept.
before = sqlite3.connect(":memory:")
migrations = sorted(glob.glob(os.path.join(root, "migrations", "*.sql")))
step4 = os.path.join(root, "migrations", "0018_attempts_by_subject.sql")
for migration in migrations[:migrations.index(step4)]:
    before.executescript(open(migration).read())
before.execute("INSERT INTO checkout_sessions (id, client_secret_hash, out_trade_no, mchid, appid, amount_fen, "
               "description, status, created_at, expires_at) VALUES ('cs_a', 'h', 'OUT1', 'm', 'a', 500, 'd', 'open', 1, 2)")
before.execute("INSERT INTO payment_attempts VALUES ('cs_a', 'ip:198.51.100.1', 500, 10)")
before.executescript(open(step4).read())
kept = before.execute("SELECT session_id, subject, amount_fen, at FROM payment_attempts").fetchall()
if kept != [("cs_a", "ip:198.51.100.1", 500, 10)]:
    sys.exit(f"step 4 lost or changed the attempts it held: {kept}")
print("[books schema] step 4 keeps the payment attempts a database held")
