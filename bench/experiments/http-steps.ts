/**
 * Where one `POST /apps/{id}/events` spends its time in our handler, step by step, against
 * what the ceiling does for the same request. Calls the real src/ functions; edits nothing.
 *
 *   npx bun bench/experiments/http-steps.ts
 */
import * as v from "valibot";
import { AppConfigSchema } from "../../src/config/schema.ts";
import { AppState } from "../../src/core/app-state.ts";
import { EventBody } from "../../src/http/bodies.ts";
import { json } from "../../src/http/responses.ts";
import { matchRoute } from "../../src/http/routes.ts";
import { signatureProblem } from "../../src/http/verify-signature.ts";
import { serverEventFrame } from "../../src/protocol/frames.ts";
import { apiStringToSign, hmacSha256Hex, md5Hex, safeEqual } from "../../src/protocol/signatures.ts";
import { signedEventUrl } from "../generator/signed-api.ts";
import { nsPerCall, row } from "./timing.ts";

const credentials = { appId: "1", key: "k", secret: "s" };
const app = new AppState(v.parse(AppConfigSchema, { app_id: "1", key: "k", secret: "s" }), false);
const bodyText = JSON.stringify({ name: "bench-event", data: `T~1795620848748.029~${"x".repeat(80)}`, channels: ["bench-http"] });
const body = new TextEncoder().encode(bodyText);
const href = signedEventUrl("http://127.0.0.1:8080", credentials, bodyText);
const url = new URL(href);
const request = new Request(href, { method: "POST", body: bodyText, headers: { "Content-Type": "application/json", "Content-Length": String(body.length) } });
const parsedBody = JSON.parse(bodyText) as { name: string; data: string; channels: string[] };
const bodyMd5 = md5Hex(body);
const toSign = apiStringToSign("POST", url.pathname, url.searchParams, bodyMd5);
const signature = hmacSha256Hex("s", toSign);
const sharedDecoder = new TextDecoder();
const HEADERS_ONE = { "Content-Type": "application/json" };
const hmacKey = new Bun.CryptoHasher("sha256", "s");

const rows: Array<[string, () => unknown]> = [
  ["new URL(request.url)", () => new URL(href)],
  ["matchRoute", () => matchRoute(url.pathname, "")],
  ["signatureProblem (whole)", () => signatureProblem(app, { method: "POST", paths: [url.pathname], search: url.search, body, nowMs: Date.now() })],
  ["  md5Hex(body) via node:crypto createHash", () => md5Hex(body)],
  ["  apiStringToSign (Map + sort + join)", () => apiStringToSign("POST", url.pathname, url.searchParams, bodyMd5)],
  ["  hmacSha256Hex via node:crypto createHmac", () => hmacSha256Hex("s", toSign)],
  ["  safeEqual (2× Buffer.from + timingSafeEqual)", () => safeEqual(signature, signature)],
  ["  alt: Bun.CryptoHasher md5", () => new Bun.CryptoHasher("md5").update(body).digest("hex")],
  ["  alt: Bun.CryptoHasher sha256 HMAC (new key)", () => new Bun.CryptoHasher("sha256", "s").update(toSign).digest("hex")],
  ["  alt: HMAC from a per-app keyed hasher .copy()", () => hmacKey.copy().update(toSign).digest("hex")],
  ["new TextDecoder().decode(body) (per request)", () => new TextDecoder().decode(body)],
  ["  alt: one shared TextDecoder", () => sharedDecoder.decode(body)],
  ["JSON.parse(body)", () => JSON.parse(bodyText)],
  ["valibot safeParse(EventBody)", () => v.safeParse(EventBody, parsedBody)],
  ["[...new Set(channels)]", () => [...new Set(parsedBody.channels)]],
  ["serverEventFrame (JSON.stringify)", () => serverEventFrame(parsedBody.name, parsedBody.data, "bench-http")],
  ["json({}) as a Response (stringify + 2 headers)", () => {
    const answer = json({});
    return new Response(answer.body, answer);
  }],
  ["  ceiling: new Response('{}', 1 header)", () => new Response("{}", { headers: HEADERS_ONE })],
];

console.log("| step | µs per trigger |\n|---|--:|");
for (const [label, fn] of rows) console.log(row(label, await nsPerCall(fn)));
