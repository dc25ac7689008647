import { afterEach, expect, test } from "bun:test";
import { signChannel, signUser } from "../src/protocol/signatures.ts";
import { RecordingLogger } from "./helpers/log.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedQuery } from "./helpers/signing.ts";
import { TcpWebSocket } from "./helpers/tcp-websocket.ts";
import { until } from "./helpers/waits.ts";

/**
 * Mutated frames over raw WebSockets and mutated HTTP API requests, signed and not, against one
 * server for a few seconds, while a watcher receives a numbered sequence of events. Rerun a
 * failure with the seed it prints: FUZZ_SEED=<seed> (FUZZ_MS lengthens the run).
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUN_MS = Number(process.env.FUZZ_MS ?? 3_000);
const WS_FUZZERS = 6;
const HTTP_FUZZERS = 4;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Mutator {
  constructor(readonly random: () => number) {}

  int(below: number): number {
    return Math.floor(this.random() * below);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A JSON value of any type or shape the server might not expect. */
  junk(depth = 0): unknown {
    const kinds = depth > 2 ? 10 : 14;
    switch (this.int(kinds)) {
      case 0: return null;
      case 1: return this.chance(0.5);
      case 2: return this.int(2_000_000_000) - 1_000_000_000;
      case 3: return this.pick([0, -0, 1e308, -1e308, 5e-324, 0.1, 2 ** 53 + 1]);
      case 4: return "";
      case 5: return this.pick(["x".repeat(this.int(300)), "é€😀".repeat(this.int(50)), "\u0000\u0001\ud800", "presence-", "private-", "__proto__", "constructor", "toString", ":", "%zz", "a:b:c"]);
      case 6: return String(this.int(1000));
      case 7: return "y".repeat(this.pick([199, 200, 201, 9_999, 10_001]));
      case 8: return { toString: 1 };
      case 9: return { valueOf: "x", toJSON: null };
      case 10: return [];
      case 11: return Array.from({ length: this.int(4) }, () => this.junk(depth + 1));
      case 12: return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.pick(["user_id", "channel", "data", "event", "__proto__", "x"]), this.junk(depth + 1)]));
      default: return {};
    }
  }

  /** Replaces, deletes or adds one field somewhere in a JSON object, in place. */
  mutateObject(target: Record<string, unknown>): void {
    const path: Record<string, unknown>[] = [target];
    let node = target;
    while (this.chance(0.5)) {
      const nested = Object.values(node).filter((value): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value));
      if (nested.length === 0) break;
      node = this.pick(nested);
      path.push(node);
    }
    const keys = Object.keys(node);
    const action = this.int(3);
    if (action === 0 && keys.length > 0) delete node[this.pick(keys)];
    else if (action === 1 && keys.length > 0) node[this.pick(keys)] = this.junk();
    else node[this.pick(["event", "channel", "data", "auth", "channel_data", "user_id", "name", "socket_id", "info", "extra"])] = this.junk();
  }

  /** Byte-level damage to a text: flips, cuts, insertions, duplicated slices. */
  mutateText(text: string): string {
    let out = text;
    for (let n = 1 + this.int(3); n > 0 && out.length > 0; n--) {
      const at = this.int(out.length);
      switch (this.int(5)) {
        case 0: out = out.slice(0, at) + String.fromCharCode(this.int(0x3000)) + out.slice(at + 1); break;
        case 1: out = out.slice(0, at); break;
        case 2: out = out.slice(0, at) + this.pick(['"', "{", "}", "[", "]", ",", ":", "\\", "\\u", "null", "\u0000", "9e999"]) + out.slice(at); break;
        case 3: out = out.slice(0, at) + out.slice(at, at + this.int(40)).repeat(2) + out.slice(at); break;
        default: out = out.slice(0, at) + out.slice(at + 1 + this.int(10));
      }
    }
    return out;
  }
}

const CHANNELS = ["fuzz", "watched", "private-fuzz", "presence-fuzz", "private-cache-fuzz", "presence-cache-fuzz", "cache-fuzz", "private-encrypted-fuzz", "", "#", "presence-", "#server-to-user-1", "#server-to-user-2"];

/** A frame a real client could send, before any damage. */
function validMessage(m: Mutator): { message: Record<string, unknown>; sign: boolean } {
  const channel = m.pick(CHANNELS);
  switch (m.int(9)) {
    case 8: {
      const watchlist = Array.from({ length: m.pick([0, 2, 101]) }, () => String(m.int(5)));
      return { message: { event: "pusher:signin", data: { user_data: JSON.stringify({ id: String(m.int(5)), watchlist }) } }, sign: true };
    }
    case 0: return { message: { event: "pusher:subscribe", data: { channel } }, sign: true };
    case 1: return { message: { event: "pusher:subscribe", data: { channel, channel_data: { user_id: m.int(50), user_info: { name: "fuzz" } } } }, sign: true };
    case 2: return { message: { event: "pusher:unsubscribe", data: { channel } }, sign: false };
    case 3: return { message: { event: m.pick(["pusher:ping", "pusher:pong", "pusher:connection_established", "pusher:signin", "pusher_internal:member_added"]), data: {} }, sign: false };
    default: return { message: { event: `client-${m.pick(["typing", "x", ""])}`, channel, data: { text: "hi", n: m.int(100) } }, sign: false };
  }
}

/** Serializes a subscribe the way pusher-js does (channel_data as a string), signed for this socket. */
function finish(message: Record<string, unknown>, socketId: string, sign: boolean): string {
  const data = message.data as Record<string, unknown> | undefined;
  if (sign && message.event === "pusher:signin" && data && typeof data === "object" && typeof data.user_data === "string") {
    data.auth ??= signUser(APP.key, APP.secret, socketId, data.user_data);
  }
  if (data && typeof data === "object" && !Array.isArray(data) && typeof data.channel === "string") {
    if (typeof data.channel_data === "object" && data.channel_data !== null) data.channel_data = JSON.stringify(data.channel_data);
    const channelData = typeof data.channel_data === "string" ? data.channel_data : null;
    if (sign && data.auth === undefined) data.auth = signChannel(APP.key, APP.secret, socketId, data.channel, channelData);
  }
  return JSON.stringify(message);
}

/** One socket sending damaged frames until the deadline, reconnecting whenever it is closed. */
async function wsFuzzer(server: TestServer, m: Mutator, deadline: number, sent: { frames: number; reconnects: number }): Promise<void> {
  while (Date.now() < deadline) {
    const socket = await TcpWebSocket.open(server.wsUrl());
    const socketId = await socket.socketId();
    socket.decoding = false;
    while (!socket.closed && Date.now() < deadline) {
      for (let i = 0; i < 20; i++) {
        const { message, sign } = validMessage(m);
        const roll = m.int(100);
        if (roll < 45) m.mutateObject(message);
        let text = finish(message, socketId, sign && m.chance(0.8));
        if (roll >= 45 && roll < 75) text = m.mutateText(text);
        if (roll >= 97) {
          // Framing itself: reserved bits, odd opcodes, unmasked, fragments, lies about length.
          const payload = new TextEncoder().encode(text);
          const frame = TcpWebSocket.frame(payload, m.pick([0, 1, 2, 3, 9, 10, 11, 15]), m.chance(0.7));
          if (m.chance(0.3)) frame[0]! |= 0x40;
          if (m.chance(0.3)) frame[1]! &= 0x7f;
          socket.sendRaw(m.chance(0.3) ? frame.subarray(0, m.int(frame.length)) : frame);
        } else if (roll >= 95) socket.sendText(m.mutateText("x".repeat(10_000 + m.int(20))));
        else socket.sendText(text);
        sent.frames++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.destroy();
    sent.reconnects++;
  }
}

const ROUTES: Array<{ method: string; path: (m: Mutator) => string; body: (m: Mutator) => Record<string, unknown> | null }> = [
  { method: "POST", path: () => `/apps/${APP.app_id}/events`, body: (m) => ({ name: "fuzz-event", data: JSON.stringify({ n: m.int(9) }), channels: [m.pick(CHANNELS), m.pick(CHANNELS)], info: "subscription_count,user_count" }) },
  { method: "POST", path: () => `/apps/${APP.app_id}/events`, body: (m) => ({ name: "fuzz-event", data: "{}", channel: m.pick(CHANNELS), socket_id: `${m.int(9)}.${m.int(9)}` }) },
  { method: "POST", path: () => `/apps/${APP.app_id}/batch_events`, body: (m) => ({ batch: [{ name: "fuzz-batch", channel: m.pick(CHANNELS), data: "{}", info: "occupied" }] }) },
  { method: "GET", path: () => `/apps/${APP.app_id}/channels`, body: () => null },
  { method: "GET", path: (m) => `/apps/${APP.app_id}/channels/${encodeURIComponent(m.pick(CHANNELS))}`, body: () => null },
  { method: "GET", path: (m) => `/apps/${APP.app_id}/channels/${encodeURIComponent(m.pick(CHANNELS))}/users`, body: () => null },
  { method: "GET", path: () => `/apps/${APP.app_id}/connections`, body: () => null },
  { method: "POST", path: (m) => `/apps/${APP.app_id}/users/${m.int(60)}/terminate_connections`, body: () => ({}) },
  { method: "GET", path: (m) => m.pick(["/up", "/metrics", "/dashboard/data", "/apps", "/apps/x/events", "/app/reverb-key", "/apps/123456/channels/%zz", "/apps/123456//channels"]), body: () => null },
];

/** One keep-alive client sending damaged API requests until the deadline; returns the 5xx seen. */
async function httpFuzzer(server: TestServer, m: Mutator, deadline: number, sent: { requests: number }): Promise<string[]> {
  const failures: string[] = [];
  while (Date.now() < deadline) {
    const route = m.pick(ROUTES);
    let path = route.path(m);
    const bodyObject = route.body(m);
    let method = m.chance(0.05) ? m.pick(["PUT", "DELETE", "PATCH", "OPTIONS"]) : route.method;
    if (bodyObject && m.chance(0.5)) m.mutateObject(bodyObject);
    let body = bodyObject ? JSON.stringify(bodyObject) : "";
    if (body && m.chance(0.25)) body = m.mutateText(body);
    if (m.chance(0.1)) path = m.mutateText(path).replace(/[?#\s]/g, "") || "/";
    if (!path.startsWith("/")) path = `/${path}`;
    const params: Record<string, string> = {};
    if (m.chance(0.3)) params[m.pick(["info", "filter_by_prefix", "auth_key", "extra", "body_md5"])] = JSON.stringify(m.junk());
    if (m.chance(0.05)) params.filter_by_prefix = "#server-to-user-";
    let query: string;
    const signing = m.int(10);
    if (signing < 7) query = signedQuery(method, path, body, { key: APP.key, secret: APP.secret, params });
    else if (signing < 8) query = signedQuery(method, path, body, { key: APP.key, secret: "wrong", params });
    else if (signing < 9) query = signedQuery(method, path, body, { key: APP.key, secret: APP.secret, params, timestamp: 1 });
    else query = m.mutateText(`auth_key=${APP.key}&auth_timestamp=1&auth_signature=abc&info=%zz`);
    if (m.chance(0.1)) query = m.mutateText(query);
    if (method === "GET" && body !== "" && m.chance(0.5)) method = "POST";
    const url = `${server.url}${path}?${query.replace(/#/g, "%23")}`;
    // A URL the client cannot even express is not a request to the server.
    if (!URL.canParse(url)) continue;
    const response = await fetch(url, { method, body: method === "GET" || method === "OPTIONS" ? undefined : body });
    await response.arrayBuffer();
    if (response.status >= 500) failures.push(`${response.status} ${method} ${url} body ${body.slice(0, 300)}`);
    sent.requests++;
  }
  return failures;
}

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

test(`fuzz (seed ${SEED}): no exception, no 5xx, and a watcher that loses nothing`, async () => {
  const log = new RecordingLogger();
  server = await startTestServer({ apps: [{ ...APP, accept_client_events_from: "all", subscription_count: true }], server: { metrics_token: "t" } }, log);
  const watcher = await RawClient.connect(server.wsUrl());
  await watcher.subscribe("watched");
  const random = prng(SEED);
  const deadline = Date.now() + RUN_MS;
  const wsSent = { frames: 0, reconnects: 0 };
  const httpSent = { requests: 0 };

  // The sequence the watcher must see whole: numbered events through the signed API.
  const sequenced: number[] = [];
  const sequencer = (async () => {
    for (let n = 0; Date.now() < deadline; n++) {
      const body = JSON.stringify({ name: "seq", channel: "watched", data: JSON.stringify({ n }) });
      const path = `/apps/${APP.app_id}/events`;
      const response = await fetch(`${server!.url}${path}?${signedQuery("POST", path, body, APP)}`, { method: "POST", body });
      if (response.status !== 200) throw new Error(`sequence event ${n} answered ${response.status}`);
      sequenced.push(n);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const results = await Promise.all([
    ...Array.from({ length: WS_FUZZERS }, () => wsFuzzer(server!, new Mutator(prng(Math.floor(random() * 2 ** 31))), deadline, wsSent).then(() => [])),
    ...Array.from({ length: HTTP_FUZZERS }, () => httpFuzzer(server!, new Mutator(prng(Math.floor(random() * 2 ** 31))), deadline, httpSent)),
    sequencer.then(() => []),
  ]);
  const fiveHundreds = results.flat();

  const seen = () => watcher.frames.filter((frame) => frame.event === "seq").map((frame) => (JSON.parse(frame.data as string) as { n: number }).n);
  await until(() => watcher.count("seq") >= sequenced.length || watcher.ws.readyState !== WebSocket.OPEN, "the whole sequence", 10_000);
  const metrics = await (await fetch(`${server.url}/metrics?token=t`)).text();
  const context = `seed ${SEED} (rerun: FUZZ_SEED=${SEED}); ${wsSent.frames} frames, ${wsSent.reconnects} reconnects, ${httpSent.requests} requests`;
  console.log(`fuzz: ${context}`);

  expect(fiveHundreds, context).toEqual([]);
  expect(log.matching("ERROR", ""), context).toEqual([]);
  expect(metrics, context).toContain('reverb_handler_errors_total{where="websocket"} 0');
  expect(metrics, context).toContain('reverb_handler_errors_total{where="http"} 0');
  expect(watcher.ws.readyState, context).toBe(WebSocket.OPEN);
  expect(sequenced.length, context).toBeGreaterThan(20);
  expect(seen(), context).toEqual(sequenced);
  expect((await fetch(`${server.url}/up`)).status, context).toBe(200);
}, RUN_MS + 30_000);
