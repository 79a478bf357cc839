"""Schemathesis hooks for the edge-worker's API (tests/e2e/api_fuzz.test.mjs runs them).

- Credentials: the merchant key on merchant routes; on widget routes the session's own client
  secret, learned from the answer that handed it out (creating a session), so operations reached
  through the OpenAPI links (stateful phase) act on a real session. Any other id gets a
  well-formed wrong secret, and must answer 401.
- Every other session created is paid at the simulator's cashier (the widget's Native pay
  call, then the payer approves), so the links to refunds reach real refunds.
- Idempotency keys are made unique per request, as a client makes them.
- The platform API (issue #19) gets the platform key. Half of the schema-valid merchants asked
  for are given a working WeChat Pay account (the simulator's test keys, a fresh mchid each), so
  the links reach real merchants and their API keys; the rest are refused 400 invalid_merchant,
  which a schema cannot foresee (a key that is not a key).
- Half of the OAuth tickets asked for return to the Worker's own origin (allowed); the rest to
  wherever was generated (refused with 403 unless allowed).
"""

import itertools
import json
import os
import time
import urllib.parse
import urllib.request
import uuid

import schemathesis

EDGE = os.environ["EDGE_URL"]
SANDBOX = os.environ["SANDBOX_URL"]
MERCHANT_KEY = os.environ["MERCHANT_SECRET_KEY"]
PLATFORM_KEY = os.environ["PLATFORM_SECRET_KEY"]
TEST_MERCHANTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "platform-sandbox", ".test-merchants.json")
MERCHANTS_MADE = itertools.count()
SECRETS: dict[str, str] = {}
CREATED = itertools.count()
OAUTH_STARTS = itertools.count()
PAID: list[str] = []


def post(url, body, headers=None, form=False):
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": kind, **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def pay(session_id, secret):
    answer = json.loads(post(f"{EDGE}/v1/widget/sessions/{session_id}/pay", {"scene": "native"}, {"Authorization": f"Bearer {secret}"}))
    pr = urllib.parse.parse_qs(urllib.parse.urlparse(answer["code_url"]).query)["pr"][0]
    post(f"{SANDBOX}/cashier/pay", {"pr": pr, "card": "icbc-debit", "action": "approve"}, form=True)
    # The notification books it in a moment; links to refunds need it booked.
    for _ in range(50):
        request = urllib.request.Request(f"{EDGE}/v1/checkout/sessions/{session_id}", headers={"Authorization": f"Bearer {MERCHANT_KEY}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            if json.loads(response.read())["status"] == "paid":
                PAID.append(session_id)
                return
        time.sleep(0.1)


@schemathesis.hook
def after_call(ctx, case, response):
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return
    if not (isinstance(body, dict) and isinstance(body.get("client_secret"), str)):
        return
    session_id = str(body.get("id") or body.get("session_id"))
    SECRETS[session_id] = body["client_secret"]
    if case.operation.path == "/v1/checkout/sessions" and next(CREATED) % 2 == 0:
        pay(session_id, body["client_secret"])


@schemathesis.auth(refresh_interval=None)
class Credentials:
    def get(self, case, ctx):
        if case.operation.path.startswith("/v1/platform/"):
            return PLATFORM_KEY
        if case.operation.path.startswith("/v1/widget/sessions/"):
            session = str((case.path_parameters or {}).get("id"))
            return SECRETS.get(session, f"{session}_secret_{'0' * 32}")
        return MERCHANT_KEY

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
        if case.operation.path.endswith("/oauth") and case.method.upper() == "POST":
            # Only a schema-valid return_to is swapped for an allowed one: a case made invalid on
            # purpose (negative testing) must stay invalid.
            given = case.body.get("return_to") if isinstance(case.body, dict) else None
            url = urllib.parse.urlparse(given) if isinstance(given, str) else None
            if url and url.scheme in ("http", "https") and url.netloc and next(OAUTH_STARTS) % 2 == 0:
                case.body = {**case.body, "return_to": f"{EDGE}/?return={uuid.uuid4()}"}
        if case.operation.path == "/v1/platform/merchants" and case.method.upper() == "POST":
            case.body = working_merchant(case)
        if "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = f"{case.headers['Idempotency-Key'][:200]}-{uuid.uuid4()}"



def working_merchant(case):
    """Half of the schema-valid merchants asked for, with a working account of their own."""
    body = case.body
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    if not (mode is not None and mode.is_positive and isinstance(body, dict) and next(MERCHANTS_MADE) % 2 == 0):
        return body
    with open(TEST_MERCHANTS) as f:
        keys = json.load(f)
    merchant = next(m for m in keys["merchants"] if m["trust_mode"] == "public_key")
    return {
        "name": body.get("name", "Fuzzed"),
        "settings": {
            "wechatpay_mchid": f"19{uuid.uuid4().int % 10**8:08d}",
            "wechatpay_appid": merchant["appid"],
            "wechatpay_merchant_serial": merchant["serial"],
            "wechatpay_merchant_private_key": merchant["private_key"],
            "wechatpay_api_v3_key": merchant["api_v3_key"],
            "wechatpay_public_key_id": keys["platform"]["public_key_id"],
            "wechatpay_public_key": keys["platform"]["public_key"],
        },
    }
