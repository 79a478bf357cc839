"""The WeChat Pay simulator, used by an established SDK as if it were WeChat Pay.

PyPI `wechatpayv3` is the merchant client for two test merchants, one in public-key mode and
one in platform-certificate mode (it downloads /v3/certificates itself). Its own response
verification must accept every answer; its own callback verification (`callback()`) must
accept every notification, in a local receiver. Covered: JSAPI, H5 and Native prepay, query by
out_trade_no and transaction_id, re-entry with other parameters, close (204, ORDER_PAID),
payment at the cashier with simulated cards (and PAYERROR on a card that cannot pay), partial
and full refunds (and over-refund refused, out_refund_no idempotent), refund notifications, the
retry schedule (scaled), injected faults, trade and fund-flow bills whose totals match what the
test did, and the ledger (clearing nets to zero).
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

for m in creds["merchants"]:
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

# ---- bills and the ledger ------------------------------------------------------------------
today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))


def yuan(field):
    return round(float(field.lstrip("`")) * 100)


def rows_of(text):
    lines = [l for l in text.lstrip("\ufeff").split("\r\n") if l]
    return [next(csv.reader([l])) for l in lines]


for m in creds["merchants"]:
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
