// Writes freshly generated TEST keys into .dev.vars (edge-worker) and platform-sandbox/.dev.vars
// (simulator), unless both exist already (pass --force to regenerate). Never real keys: the
// merchant key pair, the simulator's "WeChat Pay" key pair, the API v3 key, the merchant
// secret key and the platform's keys are all made here, on this machine.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomInt } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const edgeVars = join(root, ".dev.vars");
const sandboxVars = join(root, "platform-sandbox", ".dev.vars");
// Every test merchant's credentials, private keys included, for tests that act as a merchant
// with an established SDK (tests/oracle/sandbox_sdk.py).
const testMerchants = join(root, "platform-sandbox", ".test-merchants.json");

// Platform mode (issue #19): the platform API's key and the key-encryption key that seals the
// registry merchants' secrets (`{id}:{base64 of 32 bytes}`).
const platformVars = () => [
  `PLATFORM_SECRET_KEY="pk_test_${randomBytes(24).toString("hex")}"`,
  `SECRETS_KEK="dev-1:${randomBytes(32).toString("base64")}"`,
];

// Keys made before platform mode's payments know two merchants at the simulator; a third (a
// registry merchant's) and a fourth (a service provider with its sub-merchants) need them made
// again.
const current = () => Boolean(JSON.parse(readFileSync(testMerchants, "utf8")).merchants[3]?.sub_merchants);
if (!process.argv.includes("--force") && [edgeVars, sandboxVars, testMerchants].every(existsSync) && current()) {
  // A .dev.vars made before platform mode gets its keys, the others kept.
  if (!readFileSync(edgeVars, "utf8").includes("PLATFORM_SECRET_KEY=")) {
    appendFileSync(edgeVars, platformVars().join("\n") + "\n");
    console.log("[devkeys] .dev.vars present: added the platform's keys, kept the existing test keys");
  } else {
    console.log("[devkeys] .dev.vars present: keeping the existing test keys");
  }
  process.exit(0);
}

// mchid and appid are public settings: read them from wrangler.toml so both sides agree.
const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
const setting = (name) => toml.match(new RegExp(`^${name} = "([^"]*)"`, "m"))[1];
const mchid = setting("WECHATPAY_MCHID");
const appid = setting("WECHATPAY_APPID");

const rsa = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
const alnum = (n) => {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from({ length: n }, () => chars[randomInt(chars.length)]).join("");
};
const digits = (n) => Array.from({ length: n }, () => randomInt(10)).join("");

const serial = () => randomBytes(20).toString("hex").toUpperCase();
const merchant = rsa();
const platform = rsa();
const merchantSerial = serial();
const publicKeyId = `PUB_KEY_ID_01${mchid}${digits(14)}`;
const apiV3Key = alnum(32);
const merchantSecretKey = `sk_test_${randomBytes(24).toString("hex")}`;
// The official account's AppSecret, for WeChat OAuth (the payer's openid in JSAPI).
const appSecret = randomBytes(16).toString("hex");

// The platform's X.509 certificate over the same key, for merchants in certificate mode
// (what /v3/certificates serves). openssl ships with Debian; Node cannot issue certificates.
const platformSerial = serial();
const work = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "devkeys-"));
writeFileSync(join(work, "platform.pem"), platform.privateKey, { mode: 0o600 });
const platformCertificate = execFileSync("openssl", [
  "req", "-x509", "-new", "-key", join(work, "platform.pem"), "-days", "1825", "-set_serial", `0x${platformSerial}`,
  "-subj", "/C=CN/ST=Guangdong/L=Shenzhen/O=Tenpay.com/OU=Tenpay.com CA Center/CN=Tenpay.com sign",
], { encoding: "utf8" });
rmSync(work, { recursive: true, force: true });

// A second merchant, in platform-certificate mode, for the SDK conformance tests.
const certMerchant = { mchid: String(Number(mchid) + 1), appid: "wx2421b1c4370ec43b", key: rsa(), serial: serial(), apiV3Key: alnum(32) };
// A third, in public-key mode, that the tests add as a registry merchant (platform mode).
const shopMerchant = { mchid: String(Number(mchid) + 2), appid: "wx5a1c0ffee0c0ffee", key: rsa(), serial: serial(), apiV3Key: alnum(32), appSecret: randomBytes(16).toString("hex") };

// A fourth, a service provider (服务商) in public-key mode, with two sub-merchants as 进件
// registers them: one with its own official account (its sub_appid), one without.
const provider = {
  mchid: String(Number(mchid) + 3), appid: "wxa0b1c2d3e4f5a6b7", key: rsa(), serial: serial(), apiV3Key: alnum(32),
  appSecret: randomBytes(16).toString("hex"),
  subMerchants: [
    { sub_mchid: "1900000201", sub_appid: "wxb1c2d3e4f5a6b7c8", app_secret: randomBytes(16).toString("hex") },
    { sub_mchid: "1900000202" },
  ],
};

// Double-quoted values: dotenv turns \n back into newlines. JSON goes single-quoted (literal).
const pemVar = (pem) => `"${pem.trim().replaceAll("\n", "\\n")}"`;
const header = "# Generated by scripts/devkeys.mjs: TEST keys for local development only. Git-ignored.\n";

writeFileSync(
  edgeVars,
  header +
    [
      `WECHATPAY_MERCHANT_PRIVATE_KEY=${pemVar(merchant.privateKey)}`,
      `WECHATPAY_MERCHANT_SERIAL="${merchantSerial}"`,
      `WECHATPAY_API_V3_KEY="${apiV3Key}"`,
      `WECHATPAY_PUBLIC_KEY_ID="${publicKeyId}"`,
      `WECHATPAY_PUBLIC_KEY=${pemVar(platform.publicKey)}`,
      `MERCHANT_SECRET_KEY="${merchantSecretKey}"`,
      `WECHAT_APP_SECRET="${appSecret}"`,
      ...platformVars(),
    ].join("\n") + "\n",
  { mode: 0o600 },
);
const merchants = [
  { mchid, appids: [appid], serial: merchantSerial, public_key: merchant.publicKey, api_v3_key: apiV3Key, trust_mode: "public_key", app_secrets: { [appid]: appSecret } },
  { mchid: certMerchant.mchid, appids: [certMerchant.appid], serial: certMerchant.serial, public_key: certMerchant.key.publicKey, api_v3_key: certMerchant.apiV3Key, trust_mode: "certificate" },
  { mchid: shopMerchant.mchid, appids: [shopMerchant.appid], serial: shopMerchant.serial, public_key: shopMerchant.key.publicKey, api_v3_key: shopMerchant.apiV3Key, trust_mode: "public_key", app_secrets: { [shopMerchant.appid]: shopMerchant.appSecret } },
  {
    mchid: provider.mchid, appids: [provider.appid], serial: provider.serial, public_key: provider.key.publicKey, api_v3_key: provider.apiV3Key, trust_mode: "public_key",
    app_secrets: { [provider.appid]: provider.appSecret },
    sub_merchants: provider.subMerchants.map((s) => ({
      sub_mchid: s.sub_mchid,
      appids: s.sub_appid ? [s.sub_appid] : [],
      app_secrets: s.sub_appid ? { [s.sub_appid]: s.app_secret } : {},
    })),
  },
];
writeFileSync(
  sandboxVars,
  header +
    [
      `SANDBOX_PLATFORM_PRIVATE_KEY=${pemVar(platform.privateKey)}`,
      `SANDBOX_PUBLIC_KEY_ID="${publicKeyId}"`,
      `SANDBOX_PLATFORM_CERTIFICATE=${pemVar(platformCertificate)}`,
      `SANDBOX_MERCHANTS='${JSON.stringify(merchants)}'`,
    ].join("\n") + "\n",
  { mode: 0o600 },
);
writeFileSync(
  testMerchants,
  JSON.stringify(
    {
      platform: { public_key_id: publicKeyId, public_key: platform.publicKey, certificate_serial: platformSerial },
      merchants: [
        { mchid, appid, serial: merchantSerial, private_key: merchant.privateKey, api_v3_key: apiV3Key, trust_mode: "public_key", app_secret: appSecret },
        { mchid: certMerchant.mchid, appid: certMerchant.appid, serial: certMerchant.serial, private_key: certMerchant.key.privateKey, api_v3_key: certMerchant.apiV3Key, trust_mode: "certificate" },
        { mchid: shopMerchant.mchid, appid: shopMerchant.appid, serial: shopMerchant.serial, private_key: shopMerchant.key.privateKey, api_v3_key: shopMerchant.apiV3Key, trust_mode: "public_key", app_secret: shopMerchant.appSecret },
        { mchid: provider.mchid, appid: provider.appid, serial: provider.serial, private_key: provider.key.privateKey, api_v3_key: provider.apiV3Key, trust_mode: "public_key", app_secret: provider.appSecret, sub_merchants: provider.subMerchants },
      ],
    },
    null,
    2,
  ),
  { mode: 0o600 },
);
console.log(`[devkeys] wrote fresh test keys for merchant ${mchid} to .dev.vars and platform-sandbox/.dev.vars`);
