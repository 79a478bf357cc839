"""The WeChat Pay simulator, used by an established SDK as if it were WeChat Pay.

PyPI `wechatpayv3` is the merchant client for the direct test merchants, in public-key mode and
in platform-certificate mode (it downloads /v3/certificates itself), and, with
`partner_mode=True`, for a service provider acting for its two sub-merchants (partner section). Its own response
verification must accept every answer; its own callback verification (`callback()`) must
accept every notification, in a local receiver. Covered: JSAPI, H5 and Native prepay, query by
out_trade_no and transaction_id, re-entry with other parameters, close (204, ORDER_PAID),
payment at the cashier with simulated cards (and PAYERROR on a card that cannot pay), partial
and full refunds (and over-refund refused, out_refund_no idempotent), refund notifications, the
retry schedule (scaled), injected faults, trade and fund-flow bills whose totals match what the
test did (a sub-merchant's fund flow decrypted as a provider does), and the ledger (clearing nets
to zero).
Needs SANDBOX_URL; reads platform-sandbox/.test-merchants.json (written by scripts/devkeys.mjs).
"""
import base64
import csv
import gzip
import hashlib
import io
import json
import os
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import wechatpayv3.core as sdk_core
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType
from wechatpayv3.utils import build_authorization
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from checks import Checks

SANDBOX = os.environ["SANDBOX_URL"].rstrip("/")
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
creds = json.load(open(os.path.join(root, "platform-sandbox", ".test-merchants.json")))
run = "%06d" % random.randrange(10**6)

check = Checks()


# The SDK has no setting for its gateway: point it at the simulator before it fetches
# platform certificates (certificate mode does that in its constructor).
original_init_certificates = sdk_core.Core._init_certificates


def init_certificates_from_sandbox(self):
    self._gate_way = SANDBOX
    return original_init_certificates(self)


sdk_core.Core._init_certificates = init_certificates_from_sandbox

# ---- the merchants' notification receiver --------------------------------------------------
received = []  # (mchid, headers, decrypted callback) in arrival order
fail_next = {"n": 0}
clients = {}


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mchid = self.path.rsplit("/", 1)[-1]
        if fail_next["n"] > 0:
            fail_next["n"] -= 1
            self.send_response(500)
            self.end_headers()
            return
        result = clients[mchid].callback(dict(self.headers), body)
        if result is None:  # the SDK refused the signature (e.g. a SIGNTEST probe)
            self.send_response(401)
            self.end_headers()
            return
        received.append((mchid, result))
        self.send_response(204)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
receiver = "http://127.0.0.1:%d/notify" % server.server_address[1]

requests.put(f"{SANDBOX}/sandbox/settings", json={"time_scale": 0.001}).raise_for_status()

# The direct merchants; the provider (the merchant with sub-merchants) has its own section.
direct_merchants = [m for m in creds["merchants"] if not m.get("sub_merchants")]
for m in direct_merchants:
    kwargs = dict(
        wechatpay_type=WeChatPayType.NATIVE, mchid=m["mchid"], private_key=m["private_key"], cert_serial_no=m["serial"],
        appid=m["appid"], apiv3_key=m["api_v3_key"], notify_url=f"{receiver}/{m['mchid']}",
    )
    if m["trust_mode"] == "public_key":
        kwargs.update(public_key=creds["platform"]["public_key"], public_key_id=creds["platform"]["public_key_id"])
    wx = WeChatPay(**kwargs)
    wx._core._gate_way = SANDBOX
    clients[m["mchid"]] = wx
check("certificate-mode SDK downloaded and decrypted the platform certificate",
      any(c._core._certificates for c in clients.values()))


def wait_for(predicate, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    check(what, False, "timed out")
    return None


def notified(mchid, event, key, value):
    def find():
        for who, n in received:
            if who == mchid and n["event_type"] == event and n["resource"].get(key) == value:
                return n
    return wait_for(find, f"{event} for {value} reached the receiver and verified")


def cashier_pay(token, card="icbc-debit", redirect_url=None):
    form = {"pr": token, "card": card, "action": "approve"}
    if redirect_url:
        form["redirect_url"] = redirect_url
    return requests.post(f"{SANDBOX}/cashier/pay", data=form, allow_redirects=False)


def token_of(prepay):
    if prepay.startswith("weixin://"):
        return urllib.parse.parse_qs(urllib.parse.urlparse(prepay).query)["pr"][0]
    return prepay[2:]  # prepay_id = "wx" + token


made = {m: {"paid": 0, "refunded": 0, "fees": 0, "payments": 0, "refunds": 0} for m in clients}


def fee(amount):
    return (amount * 6000 + 500_000) // 1_000_000


def pay_order(mchid, amount, pay_type=WeChatPayType.NATIVE, **extra):
    wx = clients[mchid]
    no = f"SDK{run}{mchid[-2:]}{random.randrange(10**8):08d}"
    code, msg = wx.pay(description="SDK 测试订单", out_trade_no=no, amount={"total": amount}, pay_type=pay_type, **extra)
    check(f"{pay_type.name} prepay answered 200 and verified by the SDK", code == 200, f"{code} {msg}")
    return no, json.loads(msg)


for mchid, wx in clients.items():
    mode = [m["trust_mode"] for m in creds["merchants"] if m["mchid"] == mchid][0]
    print(f"-- merchant {mchid} ({mode} mode)", flush=True)
    # Native: prepay, re-entry, query, pay, notification, query by id, close refused.
    no, answer = pay_order(mchid, 1999)
    check("native code_url", answer.get("code_url", "").startswith("weixin://wxpay/bizpayurl?pr="), answer)
    code, msg = wx.pay(description="SDK 测试订单", out_trade_no=no, amount={"total": 1999}, pay_type=WeChatPayType.NATIVE)
    check("identical re-entry gives the same code_url", code == 200 and json.loads(msg) == answer, msg)
    code, msg = wx.pay(description="SDK 测试订单", out_trade_no=no, amount={"total": 2000}, pay_type=WeChatPayType.NATIVE)
    check("re-entry with other parameters is refused", code == 400 and json.loads(msg)["code"] == "INVALID_REQUEST", f"{code} {msg}")
    code, msg = wx.query(out_trade_no=no)
    check("query NOTPAY", code == 200 and json.loads(msg)["trade_state"] == "NOTPAY", msg)
    r = cashier_pay(token_of(answer["code_url"]))
    check("cashier approves", r.status_code == 200 and "SUCCESS" in r.text, r.text[:200])
    n = notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
    if n:
        tx = n["resource"]
        check("notified transaction", tx["trade_state"] == "SUCCESS" and tx["amount"]["total"] == 1999 and tx["mchid"] == mchid, tx)
        code, msg = wx.query(transaction_id=tx["transaction_id"])
        check("query by transaction_id", code == 200 and json.loads(msg)["trade_state"] == "SUCCESS", msg)
        made[mchid]["paid"] += 1999
        made[mchid]["fees"] += fee(1999)
        made[mchid]["payments"] += 1
    code, msg = wx.close(out_trade_no=no)
    check("closing a paid order is ORDER_PAID", code == 400 and json.loads(msg)["code"] == "ORDER_PAID", f"{code} {msg}")

    # Refunds: partial, idempotent repeat, the rest, then one fen too many.
    rno = f"R{no}"
    code, msg = wx.refund(out_refund_no=rno + "a", amount={"refund": 500, "total": 1999, "currency": "CNY"}, out_trade_no=no, notify_url=f"{receiver}/{mchid}")
    first = json.loads(msg)
    check("partial refund accepted", code == 200 and first["status"] in ("PROCESSING", "SUCCESS"), msg)
    code, msg = wx.refund(out_refund_no=rno + "a", amount={"refund": 500, "total": 1999, "currency": "CNY"}, out_trade_no=no, notify_url=f"{receiver}/{mchid}")
    check("the same out_refund_no is the same refund", code == 200 and json.loads(msg)["refund_id"] == first.get("refund_id"), msg)
    code, msg = wx.query_refund(out_refund_no=rno + "a")
    check("refund query SUCCESS", code == 200 and json.loads(msg)["status"] == "SUCCESS", msg)
    notified(mchid, "REFUND.SUCCESS", "out_refund_no", rno + "a")
    code, msg = wx.refund(out_refund_no=rno + "b", amount={"refund": 1499, "total": 1999, "currency": "CNY"}, out_trade_no=no, notify_url=f"{receiver}/{mchid}")
    check("the rest refunded", code == 200, msg)
    notified(mchid, "REFUND.SUCCESS", "out_refund_no", rno + "b")
    code, msg = wx.refund(out_refund_no=rno + "c", amount={"refund": 1, "total": 1999, "currency": "CNY"}, out_trade_no=no)
    check("refunding more than was paid is refused", code == 400 and json.loads(msg)["code"] == "INVALID_REQUEST", f"{code} {msg}")
    made[mchid]["refunded"] += 1999
    made[mchid]["fees"] -= (2 * fee(1999) * 500 + 1999) // (2 * 1999) + (2 * fee(1999) * 1499 + 1999) // (2 * 1999)
    made[mchid]["refunds"] += 2
    code, msg = wx.query(out_trade_no=no)
    check("a refunded order reads REFUND", json.loads(msg)["trade_state"] == "REFUND", msg)

    # JSAPI: openid required; pay through the cashier with its prepay_id.
    # The SDK refuses this itself; its raw request sends it anyway, signed.
    code, msg = wx._core.request("/v3/pay/transactions/jsapi", method=RequestType.POST, data={
        "appid": wx._appid, "mchid": mchid, "description": "x", "out_trade_no": f"J{run}{mchid}",
        "notify_url": f"{receiver}/{mchid}", "amount": {"total": 1}})
    check("JSAPI without payer.openid is PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", msg)
    no, answer = pay_order(mchid, 888, WeChatPayType.JSAPI, payer={"openid": "oSbxTestPayer0001"})
    check("jsapi prepay_id", answer.get("prepay_id", "").startswith("wx"), answer)
    cashier_pay(token_of(answer["prepay_id"]))
    n = notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
    check("jsapi payer is the openid ordered for", n and n["resource"]["payer"]["openid"] == "oSbxTestPayer0001", n)
    made[mchid]["paid"] += 888
    made[mchid]["fees"] += fee(888)
    made[mchid]["payments"] += 1

    # H5: scene_info required; h5_url opens the cashier; approval returns to redirect_url.
    no, answer = pay_order(mchid, 12800, WeChatPayType.H5, scene_info={"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}})
    h5_url = answer.get("h5_url", "")
    check("h5_url on the cashier", "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx" in h5_url, answer)
    page = requests.get(h5_url + "&redirect_url=" + urllib.parse.quote("https://shop.example/return"))
    check("h5 cashier page shows the amount", page.status_code == 200 and "¥128.00" in page.text, page.text[:200])
    token = urllib.parse.parse_qs(urllib.parse.urlparse(h5_url).query)["prepay_id"][0][2:]
    r = cashier_pay(token, redirect_url="https://shop.example/return")
    check("h5 approval returns to redirect_url", r.status_code == 303 and r.headers["Location"] == "https://shop.example/return", r.status_code)
    notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
    made[mchid]["paid"] += 12800
    made[mchid]["fees"] += fee(12800)
    made[mchid]["payments"] += 1

    # Close an unpaid order (twice: re-entrant); a card that cannot pay gives PAYERROR.
    no, _ = pay_order(mchid, 300)
    code, _ = wx.close(out_trade_no=no)
    code2, _ = wx.close(out_trade_no=no)
    check("close is 204 and re-entrant", code == 204 and code2 == 204, (code, code2))
    check("closed order reads CLOSED", json.loads(wx.query(out_trade_no=no)[1])["trade_state"] == "CLOSED")
    no, answer = pay_order(mchid, 1000)
    r = cashier_pay(token_of(answer["code_url"]), card="abc-debit-low")
    check("insufficient balance page", "PAYERROR" in r.text, r.text[:200])
    check("insufficient balance reads PAYERROR", json.loads(wx.query(out_trade_no=no)[1])["trade_state"] == "PAYERROR")

# ---- retries and faults (public-key merchant) ----------------------------------------------
mchid = creds["merchants"][0]["mchid"]
wx = clients[mchid]


def log_of(no):
    return requests.get(f"{SANDBOX}/sandbox/notifications", params={"out_trade_no": no}).json()["notifications"]


def fault(kind, **kw):
    requests.post(f"{SANDBOX}/sandbox/faults", json={"kind": kind, "mchid": mchid, **kw}).raise_for_status()


def paid_order(amount=100):
    no, answer = pay_order(mchid, amount)
    cashier_pay(token_of(answer["code_url"]))
    made[mchid]["paid"] += amount
    made[mchid]["fees"] += fee(amount)
    made[mchid]["payments"] += 1
    return no


fail_next["n"] = 3
no = paid_order()
notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
statuses = [a["http_status"] for a in log_of(no)[0]["attempts"]]
check("retried on the schedule after 3 failures", statuses == [500, 500, 500, 204], statuses)

fault("drop_notification")
no = paid_order()
time.sleep(1)
log = log_of(no)
check("a dropped notification is never sent", log[0]["state"] == "dropped" and log[0]["attempts"] == [], log)

fault("duplicate_notification", param=3)
no = paid_order()
wait_for(lambda: sum(1 for who, n in received if n["resource"].get("out_trade_no") == no) == 3, "3 copies delivered")
check("duplicates carry one notification id", len({n["id"] for who, n in received if n["resource"].get("out_trade_no") == no}) == 1)

fault("signtest_first")
no = paid_order()
notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
attempts = log_of(no)[0]["attempts"]
check("a SIGNTEST probe came first and the SDK refused it", [(a["probe"], a["http_status"]) for a in attempts] == [(1, 401), (0, 204)], attempts)

fault("system_error_once")
code, msg = wx.query(out_trade_no=no)
code2, _ = wx.query(out_trade_no=no)
check("SYSTEM_ERROR once, then success", code == 500 and json.loads(msg)["code"] == "SYSTEM_ERROR" and code2 == 200, f"{code} {msg}")

fault("refund_abnormal")
code, msg = wx.refund(out_refund_no=f"RA{no}", amount={"refund": 50, "total": 100, "currency": "CNY"}, out_trade_no=no, notify_url=f"{receiver}/{mchid}")
notified(mchid, "REFUND.ABNORMAL", "out_refund_no", f"RA{no}")
check("abnormal refund reads ABNORMAL", json.loads(wx.query_refund(out_refund_no=f"RA{no}")[1])["status"] == "ABNORMAL")

fault("prepay_5xx")
no = f"F5{run}{random.randrange(10**8):08d}"
code, msg = wx.pay(description="5xx", out_trade_no=no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE)
code2, msg2 = wx.pay(description="5xx", out_trade_no=no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE)
check("prepay answers 5xx once; the retry with the same parameters succeeds", code == 500 and code2 == 200, f"{code} {code2} {msg2}")

fault("prepay_no_answer", param=2500)
no = f"NA{run}{random.randrange(10**8):08d}"
wx._core._timeout = 1
try:
    wx.pay(description="no answer", out_trade_no=no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE)
    timed_out = False
except requests.exceptions.Timeout:
    timed_out = True
wx._core._timeout = None
code, msg = wx.pay(description="no answer", out_trade_no=no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE)
check("a prepay without answer times out; re-sending the same parameters finds the order", timed_out and code == 200 and "code_url" in json.loads(msg), f"{timed_out} {code} {msg}")

fault("delay_notification", param=1500)
no = paid_order()
time.sleep(0.5)
early = [a["http_status"] for a in log_of(no)[0]["attempts"]]
notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", no)
check("a delayed notification waits", early == [], early)

fault("reorder_notifications")
first_no = paid_order()
time.sleep(0.3)
second_no = paid_order()
notified(mchid, "TRANSACTION.SUCCESS", "out_trade_no", first_no)
order = [n["resource"]["out_trade_no"] for who, n in received if n["resource"].get("out_trade_no") in (first_no, second_no)]
check("reordered: the later payment is notified first", order == [second_no, first_no], order)

# time_expire: an order that expired can no longer be paid, and reads CLOSED.
no = f"TE{run}{random.randrange(10**8):08d}"
expire = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600 + 2))
code, msg = wx.pay(description="expires", out_trade_no=no, amount={"total": 100}, time_expire=expire, pay_type=WeChatPayType.NATIVE)
time.sleep(3)
r = cashier_pay(token_of(json.loads(msg)["code_url"]))
check("an expired order cannot be paid and reads CLOSED", "CLOSED" in r.text and json.loads(wx.query(out_trade_no=no)[1])["trade_state"] == "CLOSED", r.text[:200])

today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


def yuan(field):
    return round(float(field.lstrip("`")) * 100)


def rows_of(text):
    lines = [l for l in text.lstrip("\ufeff").split("\r\n") if l]
    return [next(csv.reader([l])) for l in lines]


# ---- partner mode: a service provider (服务商) for its sub-merchants --------------------------
# wechatpayv3 with partner_mode=True is the provider: it signs with its own key, names sp_mchid
# and sub_mchid, and verifies and decrypts its sub-merchants' notifications with its own keys.
provider = next(m for m in creds["merchants"] if m.get("sub_merchants"))
sp = provider["mchid"]
own, bare = provider["sub_merchants"]  # `own` has its own official account (sub_appid); `bare` none
sub_app = own["sub_appid"]
print(f"-- provider {sp}, sub-merchants {own['sub_mchid']} (sub_appid {sub_app}) and {bare['sub_mchid']}", flush=True)


def provider_client(partner_mode):
    return WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE, mchid=sp, private_key=provider["private_key"], cert_serial_no=provider["serial"],
        appid=provider["appid"], apiv3_key=provider["api_v3_key"], notify_url=f"{receiver}/{sp}",
        public_key=creds["platform"]["public_key"], public_key_id=creds["platform"]["public_key_id"], partner_mode=partner_mode)


pwx = provider_client(True)
pwx._core._gate_way = SANDBOX
clients[sp] = pwx  # the receiver hands the provider's notifications to this SDK's callback()
for sub in (own, bare):
    made[sub["sub_mchid"]] = {"paid": 0, "refunded": 0, "fees": 0, "payments": 0, "refunds": 0}


def oauth(appid, secret, payer=1):
    r = requests.get(f"{SANDBOX}/connect/oauth2/authorize", allow_redirects=False, params={
        "appid": appid, "redirect_uri": "https://shop.example/back", "response_type": "code", "scope": "snsapi_base", "state": "p", "payer": payer})
    code = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["code"][0]
    return requests.get(f"{SANDBOX}/sns/oauth2/access_token", params={
        "appid": appid, "secret": secret, "code": code, "grant_type": "authorization_code"}).json()


# OAuth: the sub-merchant's app with its own secret gives its own openid for the same payer.
sub_openid = oauth(sub_app, own["app_secret"]).get("openid")
sp_openid = oauth(provider["appid"], provider["app_secret"]).get("openid")
check("OAuth under the sub_appid with its secret gives an openid", bool(sub_openid), sub_openid)
check("the same payer has another openid under the sp_appid", sp_openid and sub_openid != sp_openid, (sp_openid, sub_openid))
check("the provider's secret does not open the sub-merchant's app", oauth(sub_app, provider["app_secret"]).get("errcode") == 40125)


def partner_order(sub, amount, pay_type=WeChatPayType.NATIVE, **extra):
    no = f"SP{run}{sub['sub_mchid'][-2:]}{random.randrange(10**8):08d}"
    code, msg = pwx.pay(description="服务商测试订单", out_trade_no=no, amount={"total": amount}, pay_type=pay_type, sub_mchid=sub["sub_mchid"], **extra)
    check(f"partner {pay_type.name} prepay answered 200 and verified by the SDK", code == 200, f"{code} {msg}")
    return no, json.loads(msg)


def booked_payment(sub, amount):
    book = made[sub["sub_mchid"]]
    book["paid"] += amount
    book["fees"] += fee(amount)
    book["payments"] += 1


def partner_fields(resource, sub, sub_appid=None):
    """The partner Transaction's numbers: sp_ and sub_, never a direct merchant's."""
    return (resource.get("sp_mchid") == sp and resource.get("sp_appid") == provider["appid"]
            and resource.get("sub_mchid") == sub["sub_mchid"] and resource.get("sub_appid") == sub_appid
            and "mchid" not in resource and "appid" not in resource)


# JSAPI for the sub-merchant's own app: sub_appid + sub_openid.
no, answer = partner_order(own, 888, WeChatPayType.JSAPI, sub_appid=sub_app, payer={"sub_openid": sub_openid})
check("partner jsapi prepay_id", answer.get("prepay_id", "").startswith("wx"), answer)
code, msg = pwx.query(out_trade_no=no, sub_mchid=own["sub_mchid"])
tx = json.loads(msg)
check("partner query by out_trade_no: NOTPAY in the partner shape", code == 200 and tx["trade_state"] == "NOTPAY" and partner_fields(tx, own, sub_app), msg)
cashier_pay(token_of(answer["prepay_id"]))
n = notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
if n:
    tx = n["resource"]
    check("the provider's SDK verified and decrypted the partner TRANSACTION.SUCCESS", partner_fields(tx, own, sub_app) and tx["trade_state"] == "SUCCESS", tx)
    check("its payer: the sub_openid ordered for, and the same payer's sp_openid", tx["payer"] == {"sub_openid": sub_openid, "sp_openid": sp_openid}, tx["payer"])
    code, msg = pwx.query(transaction_id=tx["transaction_id"], sub_mchid=own["sub_mchid"])
    by_id = json.loads(msg)
    check("partner query by transaction_id", code == 200 and by_id["trade_state"] == "SUCCESS" and by_id["out_trade_no"] == no and partner_fields(by_id, own, sub_app), msg)
    code, msg = pwx.query(transaction_id=tx["transaction_id"], sub_mchid=bare["sub_mchid"])
    check("another sub-merchant's books do not have it", code == 404 and json.loads(msg)["code"] == "ORDER_NOT_EXIST", f"{code} {msg}")
booked_payment(own, 888)
jsapi_no = no

# JSAPI with the provider's app only: sp_openid, no sub_appid.
no, answer = partner_order(bare, 520, WeChatPayType.JSAPI, payer={"sp_openid": sp_openid})
cashier_pay(token_of(answer["prepay_id"]))
n = notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
check("an sp_openid payment: sp_ numbers, no sub_appid, payer sp_openid only",
      n and partner_fields(n["resource"], bare) and n["resource"]["payer"] == {"sp_openid": sp_openid}, n and n["resource"])
booked_payment(bare, 520)

# H5 and Native, paid at the cashier as a direct merchant's are.
no, answer = partner_order(own, 12800, WeChatPayType.H5, sub_appid=sub_app, scene_info={"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}})
h5_url = answer.get("h5_url", "")
check("partner h5_url on the cashier", "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx" in h5_url, answer)
r = cashier_pay(urllib.parse.parse_qs(urllib.parse.urlparse(h5_url).query)["prepay_id"][0][2:], redirect_url="https://shop.example/return")
check("partner h5 approval returns to redirect_url", r.status_code == 303, r.status_code)
n = notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
check("partner h5 notification: MWEB, sp_ and sub_ numbers", n and n["resource"]["trade_type"] == "MWEB" and partner_fields(n["resource"], own, sub_app), n and n["resource"])
booked_payment(own, 12800)

no, answer = partner_order(own, 1999, sub_appid=sub_app)
check("partner native code_url", answer.get("code_url", "").startswith("weixin://wxpay/bizpayurl?pr="), answer)
code, msg = pwx.pay(description="服务商测试订单", out_trade_no=no, amount={"total": 1999}, pay_type=WeChatPayType.NATIVE, sub_mchid=own["sub_mchid"], sub_appid=sub_app)
check("partner identical re-entry gives the same code_url", code == 200 and json.loads(msg) == answer, msg)
code, msg = pwx.pay(description="服务商测试订单", out_trade_no=no, amount={"total": 2000}, pay_type=WeChatPayType.NATIVE, sub_mchid=own["sub_mchid"], sub_appid=sub_app)
check("partner re-entry with other parameters is refused", code == 400 and json.loads(msg)["code"] == "INVALID_REQUEST", f"{code} {msg}")
cashier_pay(token_of(answer["code_url"]))
notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
booked_payment(own, 1999)
code, msg = pwx.close(out_trade_no=no, sub_mchid=own["sub_mchid"])
check("closing a paid partner order is ORDER_PAID", code == 400 and json.loads(msg)["code"] == "ORDER_PAID", f"{code} {msg}")

# A partial refund with sub_mchid, its query and its notification.
rno = f"R{no}"
code, msg = pwx.refund(out_refund_no=rno, amount={"refund": 500, "total": 1999, "currency": "CNY"}, out_trade_no=no, notify_url=f"{receiver}/{sp}", sub_mchid=own["sub_mchid"])
check("partner partial refund accepted", code == 200 and json.loads(msg)["status"] in ("PROCESSING", "SUCCESS"), msg)
code, msg = pwx.query_refund(out_refund_no=rno, sub_mchid=own["sub_mchid"])
check("partner refund query SUCCESS", code == 200 and json.loads(msg)["status"] == "SUCCESS" and json.loads(msg)["amount"]["refund"] == 500, msg)
n = notified(sp, "REFUND.SUCCESS", "out_refund_no", rno)
if n:
    notice = n["resource"]
    check("the partner REFUND.SUCCESS names sp_mchid and sub_mchid, no mchid",
          notice.get("sp_mchid") == sp and notice.get("sub_mchid") == own["sub_mchid"] and "mchid" not in notice
          and notice["out_trade_no"] == no and notice["refund_status"] == "SUCCESS" and notice["amount"]["refund"] == 500, notice)
made[own["sub_mchid"]]["refunded"] += 500
made[own["sub_mchid"]]["fees"] -= (2 * fee(1999) * 500 + 1999) // (2 * 1999)
made[own["sub_mchid"]]["refunds"] += 1
code, msg = pwx.query(out_trade_no=no, sub_mchid=own["sub_mchid"])
check("a refunded partner order reads REFUND", json.loads(msg)["trade_state"] == "REFUND", msg)
code, msg = pwx.refund(out_refund_no=rno + "x", amount={"refund": 1, "total": 1999, "currency": "CNY"}, out_trade_no=no, sub_mchid=bare["sub_mchid"])
check("a refund in the wrong sub-merchant's books finds no order", code == 404 and json.loads(msg)["code"] == "ORDER_NOT_EXIST", f"{code} {msg}")

# Close an unpaid partner order (re-entrant).
no, _ = partner_order(bare, 300)
codes = [pwx.close(out_trade_no=no, sub_mchid=bare["sub_mchid"])[0] for _ in range(2)]
check("partner close is 204 and re-entrant", codes == [204, 204], codes)
check("a closed partner order reads CLOSED", json.loads(pwx.query(out_trade_no=no, sub_mchid=bare["sub_mchid"])[1])["trade_state"] == "CLOSED")

# Faults reach partner traffic: keyed by the sub_mchid (its notifications) or by the provider (its calls).
requests.post(f"{SANDBOX}/sandbox/faults", json={"kind": "drop_notification", "mchid": bare["sub_mchid"]}).raise_for_status()
no, answer = partner_order(bare, 700)
cashier_pay(token_of(answer["code_url"]))
booked_payment(bare, 700)
time.sleep(1)
log = requests.get(f"{SANDBOX}/sandbox/notifications", params={"mchid": bare["sub_mchid"], "out_trade_no": no}).json()["notifications"]
check("a fault keyed by the sub_mchid drops its notification", len(log) == 1 and log[0]["state"] == "dropped", log)
requests.post(f"{SANDBOX}/sandbox/faults", json={"kind": "signtest_first", "mchid": sp}).raise_for_status()
no, answer = partner_order(bare, 600)
cashier_pay(token_of(answer["code_url"]))
booked_payment(bare, 600)
notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
attempts = requests.get(f"{SANDBOX}/sandbox/notifications", params={"out_trade_no": no}).json()["notifications"][0]["attempts"]
check("a fault keyed by the provider reaches its sub-merchant's notification; the SDK refused the probe",
      [(a["probe"], a["http_status"]) for a in attempts] == [(1, 401), (0, 204)], attempts)
requests.post(f"{SANDBOX}/sandbox/faults", json={"kind": "system_error_once", "mchid": sp}).raise_for_status()
code, _ = pwx.query(out_trade_no=no, sub_mchid=bare["sub_mchid"])
code2, _ = pwx.query(out_trade_no=no, sub_mchid=bare["sub_mchid"])
check("a call fault keyed by the provider reaches its partner calls", (code, code2) == (500, 200), (code, code2))
fail_next["n"] = 1
no, answer = partner_order(own, 100, sub_appid=sub_app)
cashier_pay(token_of(answer["code_url"]))
booked_payment(own, 100)
notified(sp, "TRANSACTION.SUCCESS", "out_trade_no", no)
statuses = [a["http_status"] for a in requests.get(f"{SANDBOX}/sandbox/notifications", params={"out_trade_no": no}).json()["notifications"][0]["attempts"]]
check("a partner notification is retried on the schedule", statuses == [500, 204], statuses)

# Refusals.
code, msg = pwx.pay(description="x", out_trade_no=f"NA{run}", amount={"total": 1}, pay_type=WeChatPayType.NATIVE, sub_mchid="1900000999")
check("a sub_mchid that is not the provider's is 403 NO_AUTH", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
code, msg = pwx.pay(description="x", out_trade_no=f"NB{run}", amount={"total": 1}, pay_type=WeChatPayType.NATIVE, sub_mchid=own["sub_mchid"], sub_appid=direct_merchants[0]["appid"])
check("a foreign sub_appid is APPID_MCHID_NOT_MATCH naming sub_appid", code == 400 and json.loads(msg)["code"] == "APPID_MCHID_NOT_MATCH" and "sub_appid" in json.loads(msg)["message"], f"{code} {msg}")
code, msg = pwx.pay(description="x", out_trade_no=f"NC{run}", amount={"total": 1}, pay_type=WeChatPayType.NATIVE, sub_mchid=own["sub_mchid"], appid=direct_merchants[0]["appid"])
check("a foreign sp_appid is APPID_MCHID_NOT_MATCH", code == 400 and json.loads(msg)["code"] == "APPID_MCHID_NOT_MATCH", f"{code} {msg}")
code, msg = pwx.pay(description="x", out_trade_no=f"ND{run}", amount={"total": 1}, pay_type=WeChatPayType.NATIVE, sub_mchid=own["sub_mchid"], mchid=direct_merchants[0]["mchid"])
check("an sp_mchid other than the caller's is PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")
code, msg = pwx.pay(description="x", out_trade_no=f"NE{run}", amount={"total": 1}, pay_type=WeChatPayType.JSAPI, sub_mchid=own["sub_mchid"], payer={"sub_openid": sub_openid})
check("a sub_openid without sub_appid is PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")
code, msg = pwx.pay(description="x", out_trade_no=f"NF{run}", amount={"total": 1}, pay_type=WeChatPayType.JSAPI, sub_mchid=own["sub_mchid"], sub_appid=sub_app, payer={"sub_openid": sub_openid, "sp_openid": sp_openid})
check("both sp_openid and sub_openid is PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")
code, msg = pwx._core.request(f"/v3/pay/partner/transactions/out-trade-no/{jsapi_no}?sp_mchid={sp}")
check("a partner query without sub_mchid is PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")
code, msg = pwx.refund(out_refund_no=f"RN{run}", amount={"refund": 1, "total": 888, "currency": "CNY"}, out_trade_no=jsapi_no, sub_mchid="1900000999")
check("a refund for a sub_mchid that is not the provider's is 403 NO_AUTH", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
code, msg = pwx.trade_bill(bill_date=today, tar_type="", sub_mchid="1900000999")
check("a trade bill for a sub_mchid that is not the provider's is 403 NO_AUTH", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
# A direct merchant on the partner routes: the provider's sub-merchant is not its own.
dm = direct_merchants[0]
dwx = clients[dm["mchid"]]
code, msg = dwx._core.request("/v3/pay/partner/transactions/native", method=RequestType.POST, data={
    "sp_appid": dm["appid"], "sp_mchid": dm["mchid"], "sub_mchid": own["sub_mchid"], "description": "x",
    "out_trade_no": f"NG{run}", "notify_url": f"{receiver}/{dm['mchid']}", "amount": {"total": 1}})
check("a direct merchant acting for another provider's sub-merchant is 403 NO_AUTH", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
code, msg = dwx._core.request(f"/v3/pay/partner/transactions/out-trade-no/{jsapi_no}?sp_mchid={dm['mchid']}&sub_mchid={own['sub_mchid']}")
check("nor may it query that sub-merchant's orders", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
# Direct and partner books never meet.
dpwx = provider_client(False)
dpwx._core._gate_way = SANDBOX
code, msg = dpwx.query(out_trade_no=jsapi_no)
check("the provider's direct query does not find its sub-merchant's order", code == 404 and json.loads(msg)["code"] == "ORDER_NOT_EXIST", f"{code} {msg}")
direct_no = f"SPD{run}{random.randrange(10**8):08d}"
code, msg = dpwx.pay(description="直连订单", out_trade_no=direct_no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE)
check("the provider places a direct order of its own", code == 200, msg)
code, msg = pwx.query(out_trade_no=direct_no, sub_mchid=own["sub_mchid"])
check("the partner query does not find a direct order", code == 404 and json.loads(msg)["code"] == "ORDER_NOT_EXIST", f"{code} {msg}")
code, msg = clients[dm["mchid"]]._core.request("/v3/pay/transactions/native", method=RequestType.POST, data={
    "sp_appid": provider["appid"], "sp_mchid": sp, "sub_mchid": own["sub_mchid"], "description": "x",
    "out_trade_no": f"NH{run}", "notify_url": f"{receiver}/{sp}", "amount": {"total": 1}})
check("partner fields on the direct route are PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")

# The listings show partner records under the sub_mchid, naming the provider.
listed = requests.get(f"{SANDBOX}/sandbox/transactions", params={"mchid": own["sub_mchid"], "out_trade_no": jsapi_no}).json()["transactions"]
check("/sandbox/transactions lists it under the sub_mchid with its sp_mchid", len(listed) == 1 and listed[0]["sp_mchid"] == sp and listed[0]["sub_appid"] == sub_app, listed)

# Bills: one sub-merchant's lines with sub_mchid, all of them without.
ids_in_bill = {}  # each sub-merchant's transaction and refund ids, from its trade bill
for sub in (own, bare):
    code, msg = pwx.trade_bill(bill_date=today, tar_type="", sub_mchid=sub["sub_mchid"])
    location = json.loads(msg)
    code2, raw = pwx.download_bill(location["download_url"])
    raw = raw if isinstance(raw, bytes) else raw.encode()
    check("partner trade bill download matches its SHA1", code == 200 and code2 == 200 and hashlib.sha1(raw).hexdigest() == location["hash_value"], msg)
    rows = rows_of(raw.decode())
    lines, summary = rows[1:-2], rows[-1]
    check("the bill holds that sub-merchant's lines only: 公众账号ID sp_appid, 商户号 sp_mchid, 特约商户号 its sub_mchid",
          lines and all(l[1:4] == ["`" + provider["appid"], "`" + sp, "`" + sub["sub_mchid"]] for l in lines), [l[1:4] for l in lines])
    expect = made[sub["sub_mchid"]]
    pays = [l for l in lines if l[9] == "`SUCCESS"]
    refunds = [l for l in lines if l[9] == "`REFUND"]
    check("its payments and refunds = the test's",
          (len(pays), sum(yuan(l[12]) for l in pays), len(refunds), sum(yuan(l[16]) for l in refunds)) == (expect["payments"], expect["paid"], expect["refunds"], expect["refunded"]), (len(pays), len(refunds), expect))
    check("its fees = rate 0.60% rounded, minus fees returned", yuan(summary[4]) == expect["fees"], (summary, expect))
    ids_in_bill[sub["sub_mchid"]] = {l[5].lstrip("`") for l in lines} | {l[14].lstrip("`") for l in refunds}
    balances = {b["account"]: b["balance_fen"] for b in requests.get(f"{SANDBOX}/sandbox/balances").json()["ledger"]}
    check("the money is in the sub-merchant's balance", balances.get(f"merchant:{sub['sub_mchid']}:basic") == expect["paid"] - expect["refunded"] - expect["fees"], (balances, expect))
code, msg = pwx.trade_bill(bill_date=today, tar_type="")
code2, raw = pwx.download_bill(json.loads(msg)["download_url"])
lines = rows_of(raw.decode() if isinstance(raw, bytes) else raw)[1:-2]
every = sum(made[s["sub_mchid"]]["payments"] + made[s["sub_mchid"]]["refunds"] for s in (own, bare))
check("the provider's bill without sub_mchid holds all its sub-merchants' lines",
      len(lines) == every and {l[3] for l in lines} == {"`" + own["sub_mchid"], "`" + bare["sub_mchid"]}, (len(lines), every))
code, msg = pwx.fundflow_bill(bill_date=today, tar_type="")
code2, raw = pwx.download_bill(json.loads(msg)["download_url"])
flows = rows_of(raw.decode() if isinstance(raw, bytes) else raw)[1:-2]
check("the provider's own fund flow has none of its sub-merchants' money", code == 200 and flows == [], flows)


# A sub-merchant's fund flow (申请单个子商户资金账单): one file, sealed for the provider.
provider_key = serialization.load_pem_private_key(provider["private_key"].encode(), password=None)


def sub_fund_flow(sub_mchid, tar_type="GZIP"):
    """The bill list, and its one file opened: RSA-OAEP (SHA-1) key, AES-256-GCM, gunzip."""
    code, msg = pwx.submch_fundflow_bill(sub_mchid=sub_mchid, bill_date=today, account_type="BASIC", tar_type=tar_type)
    answer = json.loads(msg)
    if code != 200:
        return code, answer, None
    part = answer["download_bill_list"][0]
    code2, sealed = pwx.download_bill(part["download_url"])
    check("the sealed file downloads as raw bytes with the provider's signed request", code2 == 200 and isinstance(sealed, bytes), (code2, type(sealed)))
    key = provider_key.decrypt(base64.b64decode(part["encrypt_key"]), padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    plain = AESGCM(key).decrypt(part["nonce"].encode(), sealed, None)
    return code, answer, gzip.decompress(plain) if tar_type == "GZIP" else plain


code, answer, plain = sub_fund_flow(own["sub_mchid"])
part = (answer.get("download_bill_list") or [{}])[0]
check("the sub-merchant fund-flow bill is a list of one part",
      code == 200 and answer.get("download_bill_count") == 1 and len(answer["download_bill_list"]) == 1 and part["bill_sequence"] == 1
      and part["hash_type"] == "SHA1" and part["download_url"].startswith(f"{SANDBOX}/v3/billdownload/file?token=")
      and len(part["nonce"]) == 16 and part["nonce"].isascii() and part["nonce"].isalnum(), answer)
check("it opens with the provider's private key, and its SHA1 is the plain bill's", plain is not None and hashlib.sha1(plain).hexdigest() == part["hash_value"], part)
flows = rows_of(plain.decode())
header, flows, summary = flows[0], flows[1:-2], flows[-1]
check("it is a fund-flow bill", len(header) == 11 and header[0] == "记账时间", header)
expect = made[own["sub_mchid"]]
by_name = lambda name: [yuan(r[6]) for r in flows if r[3] == "`" + name]
check("its payments and refunds = the sub-merchant's",
      (len(by_name("交易")), sum(by_name("交易")), len(by_name("退款")), sum(by_name("退款"))) == (expect["payments"], expect["paid"], expect["refunds"], expect["refunded"]), (flows, expect))
check("its fees = those charged, minus those returned", sum(by_name("扣除交易手续费")) - sum(by_name("退回交易手续费")) == expect["fees"], (flows, expect))
net = sum(yuan(r[6]) * (1 if r[5] == "`收入" else -1) for r in flows)
check("it nets to the sub-merchant's balance, its last line's 账户结余", net == expect["paid"] - expect["refunded"] - expect["fees"] == yuan(flows[-1][7]) and int(summary[0].lstrip("`")) == len(flows), (net, expect))
references = {r[1].lstrip("`") for r in flows}
check("it holds that sub-merchant's money only", references <= ids_in_bill[own["sub_mchid"]] and not references & ids_in_bill[bare["sub_mchid"]], (references, ids_in_bill))
settled = requests.post(f"{SANDBOX}/sandbox/settlements", json={"mchid": own["sub_mchid"]}).json()["settled_fen"]
code, answer, plain = sub_fund_flow(own["sub_mchid"], tar_type=None)
flows = rows_of(plain.decode())[1:-2] if plain else []
check("a settlement is in it too; ungzipped on request", settled == net and flows and flows[-1][3] == "`提现" and yuan(flows[-1][6]) == settled and yuan(flows[-1][7]) == 0, (settled, flows[-1:]))
requests.post(f"{SANDBOX}/sandbox/faults", json={"kind": "bill_hash_mismatch", "mchid": sp}).raise_for_status()
code, answer, plain = sub_fund_flow(bare["sub_mchid"])
check("bill_hash_mismatch keyed by the provider reaches it: the file opens, its hash is wrong",
      code == 200 and plain and hashlib.sha1(plain).hexdigest() != answer["download_bill_list"][0]["hash_value"], answer)
code, answer, plain = sub_fund_flow(bare["sub_mchid"])
flows = rows_of(plain.decode())[1:-2] if plain else []
references = {r[1].lstrip("`") for r in flows}
check("the next one is right again; the other sub-merchant's holds its own money only",
      code == 200 and hashlib.sha1(plain).hexdigest() == answer["download_bill_list"][0]["hash_value"]
      and sum(yuan(r[6]) for r in flows if r[3] == "`交易") == made[bare["sub_mchid"]]["paid"]
      and references and references <= ids_in_bill[bare["sub_mchid"]] and not references & ids_in_bill[own["sub_mchid"]], (answer, references))
code, msg = pwx.submch_fundflow_bill(sub_mchid="1900000999", bill_date=today, account_type="BASIC", tar_type="GZIP")
check("a sub-merchant fund-flow bill for a sub_mchid that is not the provider's is 403 NO_AUTH", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
code, msg = dwx.submch_fundflow_bill(sub_mchid=own["sub_mchid"], bill_date=today, account_type="BASIC", tar_type="GZIP")
check("nor may a direct merchant ask for another provider's sub-merchant's", code == 403 and json.loads(msg)["code"] == "NO_AUTH", f"{code} {msg}")
code, msg = pwx.submch_fundflow_bill(sub_mchid=own["sub_mchid"], bill_date=today, account_type="BASIC", algorithm="SM4_GCM", tar_type="GZIP")
check("SM4_GCM is 400 PARAM_ERROR: the simulator does not implement it", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR" and "SM4_GCM" in json.loads(msg)["message"], f"{code} {msg}")
code, msg = pwx._core.request(f"/v3/bill/sub-merchant-fundflowbill?sub_mchid={own['sub_mchid']}&bill_date={today}&algorithm=AEAD_AES_256_GCM")
check("without account_type it is 400 PARAM_ERROR", code == 400 and json.loads(msg)["code"] == "PARAM_ERROR", f"{code} {msg}")


# ---- bills and the ledger ------------------------------------------------------------------

for m in direct_merchants:
    mchid, wx = m["mchid"], clients[m["mchid"]]
    code, msg = wx.trade_bill(bill_date=today, tar_type="")
    location = json.loads(msg)
    code2, raw = wx.download_bill(location["download_url"])
    raw = raw if isinstance(raw, bytes) else raw.encode()
    check("trade bill download matches its SHA1", code2 == 200 and hashlib.sha1(raw).hexdigest() == location["hash_value"])
    rows = rows_of(raw.decode())
    header, lines, summary = rows[0], rows[1:-2], rows[-1]
    check("trade bill has the 27-column header", len(header) == 27 and header[0] == "交易时间", header)
    pays = [l for l in lines if l[9] == "`SUCCESS"]
    refunds = [l for l in lines if l[9] == "`REFUND"]
    expect = made[mchid]
    check("bill payments = the test's payments", (len(pays), sum(yuan(l[12]) for l in pays)) == (expect["payments"], expect["paid"]), (len(pays), expect))
    check("bill refunds = the test's refunds", (len(refunds), sum(yuan(l[16]) for l in refunds)) == (expect["refunds"], expect["refunded"]), (len(refunds), expect))
    check("bill fees = rate 0.60% rounded, minus fees returned", yuan(summary[4]) == expect["fees"], (summary, expect))
    # The same bill, gzipped, fetched with a hand-signed request (the SDK reads bills as text).
    code, msg = wx.trade_bill(bill_date=today, tar_type="GZIP")
    location = json.loads(msg)
    path = location["download_url"][len(SANDBOX):]
    auth = build_authorization(path, "GET", mchid, m["serial"], wx._core._private_key)
    raw = requests.get(location["download_url"], headers={"Authorization": auth}).content
    # The hash is of the bill itself, before compression, as WeChat Pay documents it.
    check("gzip bill unpacks to the same lines and its SHA1 is the CSV's", hashlib.sha1(gzip.decompress(raw)).hexdigest() == location["hash_value"] and rows_of(gzip.decompress(raw).decode())[1:-2] == lines)
    code, msg = wx.fundflow_bill(bill_date=today, tar_type="")
    location = json.loads(msg)
    code2, raw = wx.download_bill(location["download_url"])
    flows = rows_of(raw.decode() if isinstance(raw, bytes) else raw)[1:-2]
    net = sum(yuan(r[6]) * (1 if r[5] == "`收入" else -1) for r in flows)
    balances = {b["account"]: b["balance_fen"] for b in requests.get(f"{SANDBOX}/sandbox/balances").json()["ledger"]}
    check("fund flow nets to the merchant's balance", net == balances.get(f"merchant:{mchid}:basic") == expect["paid"] - expect["refunded"] - expect["fees"], (net, balances, expect))
    settled = requests.post(f"{SANDBOX}/sandbox/settlements", json={"mchid": mchid}).json()["settled_fen"]
    check("settlement moves the balance, net of fees, to the bank", settled == net, (settled, net))

balances = {b["account"]: b["balance_fen"] for b in requests.get(f"{SANDBOX}/sandbox/balances").json()["ledger"]}
check("the clearing house nets to zero", balances.get("clearing", 0) == 0, balances)
check("every ledger movement balances", sum(balances.values()) == 0, balances)

server.shutdown()
check.finish("sandbox with wechatpayv3 as merchant client")
