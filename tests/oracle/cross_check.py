"""Cross-checks pay-core's wire output against established SDKs, byte for byte, both ways.

Fresh random cases each run (seed printed; set ORACLE_SEED to replay): RSA keys (PKCS#8 and
PKCS#1), bodies with Chinese text, JSON escapes, emoji and empty bodies, timestamps, nonces.
  - v3 (wechatpayv3): we sign requests / responses / JSAPI paySign, the oracle signs the same
    message and verifies ours; the oracle signs and builds Authorization headers, we verify;
    we encrypt with AEAD_AES_256_GCM and the oracle decrypts; the same cipher encrypts and we
    decrypt; any single altered byte of a signed body makes our verification fail.
  - v2 (wechatpy): MD5 and HMAC-SHA256 signatures of random parameter maps both ways, and
    refund req_info (AES-256-ECB under md5(API key)) both ways.
pay-core is reached through `cargo run -p pay-core --example wire` (JSON lines).
"""
import json
import os
import random
import string
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import utils as v3
from wechatpy.pay import utils as v2
from wechatpy.crypto import WeChatRefundCrypto

from checks import Checks

CASES = int(os.environ.get("ORACLE_CASES", "150"))
SEED = int(os.environ.get("ORACLE_SEED", random.SystemRandom().randrange(1 << 32)))
rng = random.Random(SEED)

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
wire = subprocess.Popen(
    [os.path.join(root, "target", "debug", "examples", "wire")],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
)


def ours(op, **fields):
    wire.stdin.write(json.dumps({"op": op, **fields}, ensure_ascii=False) + "\n")
    wire.stdin.flush()
    return json.loads(wire.stdout.readline())


check = Checks()


def text(n):
    alphabet = string.ascii_letters + string.digits + "支付成功测试商品茶叶月饼 é\u2028/\\\"'<>&"
    return "".join(rng.choice(alphabet) for _ in range(n))


def body():
    kind = rng.randrange(5)
    if kind == 0:
        return ""
    obj = {"description": text(rng.randrange(1, 30)), "amount": {"total": rng.randrange(1, 10**9), "currency": "CNY"},
           "out_trade_no": "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(20))}
    if kind == 1:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if kind == 2:
        return json.dumps(obj, ensure_ascii=True)  # \uXXXX escapes are part of the signed bytes
    if kind == 3:
        return json.dumps(obj, ensure_ascii=False).replace("/", "\\/") + " \U0001F375"
    return text(rng.randrange(1, 200))


def nonce():
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(32))


def keypair(pkcs1):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem, pub


keys = [keypair(pkcs1=i == 2) for i in range(3)]

for i in range(CASES):
    key, key_pem, pub_pem = keys[i % len(keys)]
    ts = rng.randrange(1_500_000_000, 2_000_000_000)
    nc, b = nonce(), body()
    method = rng.choice(["GET", "POST"])
    path = rng.choice(["/v3/pay/transactions/native", "/v3/pay/transactions/out-trade-no/T%d?mchid=1900000109" % i, "/v3/refund/domestic/refunds"])
    b_req = "" if method == "GET" else b

    # 1. Request signing: same message, same (deterministic PKCS#1 v1.5) signature as the oracle.
    r = ours("v3_request", key_pem=key_pem, method=method, path=path, timestamp=ts, nonce=nc, body=b_req, mchid="1900000109", serial="ABCDEF0123456789")
    expected_message = "%s\n%s\n%s\n%s\n%s\n" % (method, path, ts, nc, b_req)
    check("request message", r["message"] == expected_message, repr(r["message"][:80]))
    check("request signature", r["signature"] == v3.rsa_sign(key, expected_message), path)

    # 2. The oracle builds an Authorization header; we parse and verify it.
    auth = v3.build_authorization(path, method, "1900000109", "ABCDEF0123456789", key, data=b_req, nonce_str=nc)
    now = int(auth.split('timestamp="')[1].split('"')[0])
    r = ours("v3_verify_authorization", authorization=auth, public_key_pem=pub_pem, method=method, path=path, body=b_req, now=now + rng.randrange(-299, 300))
    check("oracle Authorization verifies", r["ok"] and r["mchid"] == "1900000109" and r["nonce_str"] == nc, json.dumps(r))

    # 3. Responses and notifications: the oracle signs, we verify; we sign, the oracle verifies.
    serial = "PUB_KEY_ID_01" + "".join(rng.choice(string.digits) for _ in range(20))
    sig = v3.rsa_sign(key, "%s\n%s\n%s\n" % (ts, nc, b))
    r = ours("v3_verify", public_key_pem=pub_pem, serial=serial, timestamp=str(ts), nonce=nc, body=b, signature=sig, now=ts + rng.randrange(-299, 300))
    check("oracle signature verifies", r["ok"], json.dumps(r))
    if b:
        raw = bytearray(b.encode())
        pos = rng.randrange(len(raw))
        raw[pos] ^= 1 << rng.randrange(7)
        try:
            altered = raw.decode()
        except UnicodeDecodeError:
            altered = None
        if altered is not None:
            r = ours("v3_verify", public_key_pem=pub_pem, serial=serial, timestamp=str(ts), nonce=nc, body=altered, signature=sig, now=ts)
            check("altered body refused", r == {"ok": False, "error": "bad_signature", "message": r.get("message")}, json.dumps(r))
    r = ours("v3_sign_response", key_pem=key_pem, serial=serial, timestamp=ts, nonce=nc, body=b)
    check("our response signature verifies in the oracle", v3.rsa_verify(str(ts), nc, b, r["signature"], key.public_key()))

    # 4. JSAPI paySign.
    prepay = "wx" + "".join(rng.choice(string.digits) for _ in range(30))
    r = ours("jsapi", key_pem=key_pem, appid="wxd930ea5d5a258f4f", prepay_id=prepay, timestamp=ts, nonce=nc)
    check("jsapi paySign", r["paySign"] == v3.rsa_sign(key, "wxd930ea5d5a258f4f\n%s\n%s\nprepay_id=%s\n" % (ts, nc, prepay)) and r["timeStamp"] == str(ts))

    # 5. AEAD_AES_256_GCM both ways.
    apiv3 = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    gcm_nonce = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12))
    aad = rng.choice(["transaction", "refund", "certificate", ""])
    plain = b or "{}"
    r = ours("aead_encrypt", key=apiv3, nonce=gcm_nonce, aad=aad, plaintext=plain)
    check("oracle decrypts ours", v3.aes_decrypt(gcm_nonce, r["ciphertext"], aad, apiv3) == plain)
    import base64
    theirs = base64.b64encode(AESGCM(apiv3.encode()).encrypt(gcm_nonce.encode(), plain.encode(), aad.encode())).decode()
    r = ours("aead_decrypt", key=apiv3, nonce=gcm_nonce, aad=aad, ciphertext=theirs)
    check("we decrypt the oracle's", r.get("plaintext") == plain, json.dumps(r)[:200])

    # 6. v2 signatures and refund req_info.
    api_key = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    params = {k: text(rng.randrange(0, 12)) for k in rng.sample(["appid", "mch_id", "body", "attach", "nonce_str", "out_trade_no", "total_fee", "device_info", "detail"], rng.randrange(2, 9))}
    params = {k: v.replace("&", "") for k, v in params.items()}  # v2 values never carry '&'
    for sign_type, fn in (("MD5", v2.calculate_signature), ("HMAC-SHA256", v2.calculate_signature_hmac)):
        mine = ours("v2_sign", params=params, key=api_key, sign_type=sign_type)["sign"]
        check("v2 %s sign" % sign_type, mine == fn(params, api_key), json.dumps(params, ensure_ascii=False))
        r = ours("v2_verify", params={**params, "sign": fn(params, api_key)}, key=api_key)
        check("v2 %s verify (type inferred)" % sign_type, r.get("sign_type") == sign_type, json.dumps(r))
    refund_xml = "<root><out_refund_no><![CDATA[R%d]]></out_refund_no><refund_fee>%d</refund_fee><reason><![CDATA[%s]]></reason></root>" % (i, rng.randrange(1, 10**6), text(8))
    crypto = WeChatRefundCrypto(api_key)
    from wechatpy.crypto import RefundCrypto
    theirs = RefundCrypto(crypto.key)._encrypt(refund_xml).decode()
    r = ours("v2_refund_decrypt", req_info=theirs, api_key=api_key)
    check("we decrypt the oracle's req_info", r.get("plaintext") == refund_xml, json.dumps(r, ensure_ascii=False)[:200])
    mine = ours("v2_refund_encrypt", plaintext=refund_xml, api_key=api_key)["req_info"]
    check("oracle decrypts our req_info", RefundCrypto(crypto.key)._decrypt(mine).decode() == refund_xml)

wire.stdin.close()
wire.wait()
check.finish(f"oracle cross-check (seed {SEED}, {CASES} random cases, wechatpayv3 + wechatpy)")
