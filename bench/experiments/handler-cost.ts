/**
 * Our whole HTTP API handler against the ceiling's, in process, on a fresh Request each call (as
 * the server gets them), then our handler's steps one at a time on fresh objects too. Publishing
 * is a no-op, so only the handler's own work is timed. Edits nothing in src/.
 *
 *   npx bun bench/experiments/handler-cost.ts [--channels 1]
 */
import { parseArgs } from "node:util";
import * as v from "valibot";
import { localBus } from "../../src/bus/bus.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { AppRegistry } from "../../src/core/app-state.ts";
import { Hub } from "../../src/core/hub.ts";
import { createApi } from "../../src/http/api.ts";
import { HttpCounters } from "../../src/metrics/http-counters.ts";
import { EventBody } from "../../src/http/bodies.ts";
import { json } from "../../src/http/responses.ts";
import { matchRoute } from "../../src/http/routes.ts";
import { signatureProblem } from "../../src/http/verify-signature.ts";
import { createLogger } from "../../src/log.ts";
import { signedEventUrl } from "../generator/signed-api.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { costPerCall, row } from "./timing.ts";

// Derived, not imported: src/ is being edited while this exists, and the type moves.
type ApiRoute = Parameters<ReturnType<typeof createApi>>[0];

const config = v.parse(ConfigSchema, {
  server: { host: "127.0.0.1", port: 0 },
  apps: [{ app_id: CREDENTIALS.appId, key: CREDENTIALS.key, secret: CREDENTIALS.secret }],
});
const log = createLogger({ debug: false, quiet: true });
const hub = new Hub({ apps: new AppRegistry(config.apps), log, bus: localBus });
hub.attach({ publish: () => 0 });
const app = hub.apps.findById(CREDENTIALS.appId)!;
const handleApi = createApi({ hub, log, http: new HttpCounters(), prefix: "", maxRequestSize: config.server.max_request_size });

const { values } = parseArgs({ options: { channels: { type: "string", default: "1" } } });
const channels = Array.from({ length: Number(values.channels) }, (_, i) => `private-bench-${i}`);
const bodyText = JSON.stringify({ name: "bench-event", data: `T~1795620848748.029~${"x".repeat(80)}`, channels });
const href = signedEventUrl("http://127.0.0.1:8080", CREDENTIALS, bodyText);
const HEADERS = { "Content-Type": "application/json", "Content-Length": String(bodyText.length), Host: "127.0.0.1:8080", "User-Agent": "Bun/1.4.5", Accept: "*/*", Connection: "keep-alive" };
const fresh = () => new Request(href, { method: "POST", body: bodyText, headers: HEADERS });

const ceiling = async () => {
  const request = fresh();
  new URL(request.url);
  const body = (await request.json()) as { name: string; data: string; channels: string[] };
  for (const channel of body.channels) JSON.stringify({ event: body.name, data: body.data, channel });
  return new Response("{}", { headers: { "Content-Type": "application/json" } });
};

const ours = async () => {
  const request = fresh();
  const url = new URL(request.url);
  const route = matchRoute(url.pathname, "") as ApiRoute;
  const response = await handleApi(route, request, url, (answer) => new Response(answer.body, answer));
  if (response.status !== 200) throw new Error(`handler answered ${response.status}: ${await response.text()}`);
  return response;
};

const body = new TextEncoder().encode(bodyText);
const parsed = JSON.parse(bodyText) as unknown;
const steps: Array<[string, () => unknown]> = [
  ["fresh Request + new URL (both pay this)", () => new URL(fresh().url)],
  ["fresh URL + searchParams parse + signatureProblem", () => {
    const url = new URL(href);
    return signatureProblem(app, { method: "POST", paths: [url.pathname], search: url.search, body, nowMs: Date.now() });
  }],
  ["  of which fresh URL + searchParams parse", () => new URL(href).searchParams.get("auth_key")],
  ["valibot safeParse(EventBody)", () => v.safeParse(EventBody, parsed)],
  ["json({}) response", () => json({})],
];

console.log(`triggers naming ${channels.length} channel(s)\n\n| what | µs wall (main thread) | µs CPU (all threads) |\n|---|--:|--:|`);
console.log(row("ceiling handler, whole (fresh Request)", await costPerCall(ceiling, 1500)));
console.log(row("our handler, whole (fresh Request, no-op publish)", await costPerCall(ours, 1500)));
for (const [label, fn] of steps) console.log(row(label, await costPerCall(fn, 500)));
