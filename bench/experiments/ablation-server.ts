/**
 * Variants of our server for the HTTP ablation (ablation.ts), built from the real src/ modules
 * without changing them. Two halves are swapped independently: the transport (our serveWithBun
 * vs a bare Bun.serve) and the API handler (our createApi vs the ceiling's "parse, publish, {}"):
 *
 *   ours            our transport + our API  (startServer, as the CLI runs it)
 *   transport-stub  our transport + ceiling handler
 *   api-bare        bare Bun.serve + our API
 *   bare-buffer     bare Bun.serve + ceiling handler reading the body as ours does (arrayBuffer,
 *                   TextDecoder, JSON.parse) instead of request.json()
 *   bare-sig        bare-buffer + our signature check (signatureProblem)
 *   bare-sig-lean   bare-buffer + the proposed lean check (lean-signature.ts)
 *   (the ceiling itself is bare Bun.serve + ceiling handler)
 */
import type { Server } from "bun";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { localBus } from "../../src/bus/bus.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { AppRegistry } from "../../src/core/app-state.ts";
import { topicFor } from "../../src/core/channel.ts";
import { Hub } from "../../src/core/hub.ts";
import { createApi } from "../../src/http/api.ts";
import { matchRoute } from "../../src/http/routes.ts";
import { signatureProblem } from "../../src/http/verify-signature.ts";
import { createLogger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { HttpCounters } from "../../src/metrics/http-counters.ts";
import { serveWithBun } from "../../src/transport/bun.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { leanSignatureProblem } from "./lean-signature.ts";

// Derived, not imported: src/ is being edited while this exists, and these types move.
type TransportOptions = Parameters<typeof serveWithBun>[0];
type HandleApi = TransportOptions["handleApi"];
type ApiRoute = Parameters<HandleApi>[0];
interface EventBody {
  name: string;
  data: string;
  channels: string[];
}

const { values } = parseArgs({ options: { variant: { type: "string", default: "ours" } } });
const config = v.parse(ConfigSchema, {
  server: { host: "127.0.0.1", port: 0 },
  apps: [{ app_id: CREDENTIALS.appId, key: CREDENTIALS.key, secret: CREDENTIALS.secret, accept_client_events_from: "members", max_message_size: 100_000 }],
});
const log = createLogger({ debug: false, quiet: true });
const newHub = () => new Hub({ apps: new AppRegistry(config.apps), log, bus: localBus });

/** The ceiling's work for one parsed trigger, publishing on our topic names. */
function publishBody(server: Server<unknown>, body: EventBody): Response {
  for (const channel of body.channels) {
    server.publish(topicFor(CREDENTIALS.appId, channel), JSON.stringify({ event: body.name, data: body.data, channel }));
  }
  return new Response("{}", { headers: { "Content-Type": "application/json" } });
}

function ceilingHandler(server: () => Server<unknown>): HandleApi {
  return async (_route, request) => publishBody(server(), (await request.json()) as EventBody);
}

/** The ceiling's handler behind our signature check: what authenticating costs by itself. */
function signedCeilingHandler(hub: Hub, server: () => Server<unknown>, lean: boolean): HandleApi {
  const app = hub.apps.findById(CREDENTIALS.appId)!;
  const decoder = new TextDecoder();
  return async (_route, request, url) => {
    const body = new Uint8Array(await request.arrayBuffer());
    const nowMs = Date.now();
    const problem = lean
      ? leanSignatureProblem(app, request.method, [url.pathname], url.search, body, nowMs)
      : signatureProblem(app, { method: request.method, paths: [url.pathname], search: url.search, body, nowMs });
    if (problem) return new Response(problem, { status: 401 });
    return publishBody(server(), JSON.parse(decoder.decode(body)) as EventBody);
  };
}

/** The ceiling's handler, reading the body the way our API does. */
function bufferedCeilingHandler(server: () => Server<unknown>): HandleApi {
  return async (_route, request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    return publishBody(server(), JSON.parse(new TextDecoder().decode(body)) as EventBody);
  };
}

/** A bare Bun.serve with the ceiling's WebSocket side (enough for the one subscriber). */
function bare(handleApi: HandleApi): Server<unknown> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      const url = new URL(request.url);
      const route = matchRoute(url.pathname, "");
      if (route?.name === "websocket") return server.upgrade(request, { data: null }) ? undefined : new Response("no", { status: 400 });
      if (!route || route.name === "health") return new Response("not found", { status: 404 });
      return handleApi(route as ApiRoute, request, url);
    },
    websocket: {
      idleTimeout: 0,
      open(ws) {
        ws.send(JSON.stringify({ event: "pusher:connection_established", data: JSON.stringify({ socket_id: "1.1", activity_timeout: 30 }) }));
      },
      message(ws, raw) {
        const { data } = JSON.parse(String(raw)) as { data: { channel: string } };
        ws.subscribe(topicFor(CREDENTIALS.appId, data.channel));
        ws.send(JSON.stringify({ event: "pusher_internal:subscription_succeeded", data: "{}", channel: data.channel }));
      },
    },
  });
}

const variants: Record<string, () => number> = {
  ours: () => startServer(config, log).port,
  "transport-stub": () => {
    let server: Server<unknown> | null = null;
    const options: TransportOptions = {
      config,
      hub: newHub(),
      log,
      handleApi: ceilingHandler(() => server!),
      handleMonitoring: () => new Response("not found", { status: 404 }),
      http: new HttpCounters(),
    };
    server = serveWithBun(options) as Server<unknown>;
    return server.port!;
  },
  "api-bare": () => {
    const hub = newHub();
    const server = bare(createApi({ hub, log, http: new HttpCounters(), prefix: "", maxRequestSize: config.server.max_request_size }));
    hub.attach(server);
    return server.port!;
  },
  "bare-buffer": () => {
    let server: Server<unknown> | null = null;
    server = bare(bufferedCeilingHandler(() => server!));
    return server.port!;
  },
  "bare-sig": () => {
    const hub = newHub();
    let server: Server<unknown> | null = null;
    server = bare(signedCeilingHandler(hub, () => server!, false));
    return server.port!;
  },
  "bare-sig-lean": () => {
    const hub = newHub();
    let server: Server<unknown> | null = null;
    server = bare(signedCeilingHandler(hub, () => server!, true));
    return server.port!;
  },
};

const start = variants[values.variant!];
if (!start) throw new Error(`unknown variant ${values.variant}; one of ${Object.keys(variants).join(", ")}`);
console.log(`Starting server on 127.0.0.1:${start()}`);
process.once("SIGTERM", () => process.exit(0));
