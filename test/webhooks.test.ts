import { afterEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { RecordingLogger } from "./helpers/log.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/waits.ts";
import { WebhookReceiver, type Reply } from "./helpers/webhook-receiver.ts";

const TOKEN = "metrics-token";
let server: TestServer | null = null;
let receiver: WebhookReceiver | null = null;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.stop();
  receiver?.stop();
  server = null;
  receiver = null;
});

async function start(webhook: Record<string, unknown> = {}, delivery: Record<string, unknown> = {}, reply?: (index: number) => Reply): Promise<{ server: TestServer; receiver: WebhookReceiver }> {
  receiver = new WebhookReceiver(reply);
  server = await startTestServer({
    apps: [{ ...APP, accept_client_events_from: "all", webhooks: [{ url: receiver.url, ...webhook }] }],
    server: { metrics_token: TOKEN, webhooks: delivery },
  });
  return { server, receiver };
}

async function connect(): Promise<RawClient> {
  const client = await RawClient.connect(server!.wsUrl());
  clients.push(client);
  return client;
}

function auth(client: RawClient, channel: string, user?: Record<string, unknown>): Record<string, unknown> {
  const channelData = user ? JSON.stringify(user) : null;
  return { auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData), ...(channelData ? { channel_data: channelData } : {}) };
}

async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`${server!.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

const names = (events: Array<Record<string, unknown>>) => events.map((event) => event.name);

describe("the Pusher wire format", () => {
  test("occupied, subscription_count and vacated ~3 s after the real leave; signed, with the key, JSON and custom headers", async () => {
    const { receiver } = await start({ headers: { "X-Tenant": "acme", "x-pusher-key": "forged", "X-Pusher-Signature": "forged" } });
    const client = await connect();
    const started = Date.now();
    await client.subscribe("orders");
    await until(() => receiver.events().length === 2, "occupied and count");
    expect(receiver.events()).toEqual([
      { name: "channel_occupied", channel: "orders" },
      { name: "subscription_count", channel: "orders", subscription_count: 1 },
    ]);
    const request = receiver.received[0]!;
    expect(request.valid).toBe(true);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["x-pusher-key"]).toBe(APP.key);
    expect(request.headers["x-tenant"]).toBe("acme");
    expect(Math.abs(request.timeMs - started)).toBeLessThan(2000);
    expect(Object.keys(JSON.parse(request.rawBody))).toEqual(["time_ms", "events"]);

    client.send({ event: "pusher:unsubscribe", data: { channel: "orders" } });
    const left = Date.now();
    await until(() => receiver.events("channel_vacated").length === 1, "vacated", 5000);
    const waited = receiver.received.at(-1)!.at - left;
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(4500);
    expect(receiver.events().at(-1)).toEqual({ name: "channel_vacated", channel: "orders" });
    expect(receiver.received.every((r) => r.valid)).toBe(true);
    // One event per request without batching, as Pusher sends them.
    expect(receiver.received.every((r) => r.events.length === 1)).toBe(true);
  });

  test("members: added once per user (two sockets are one member), removed after the grace delay; no subscription_count on presence", async () => {
    const { receiver } = await start();
    const [a, b] = [await connect(), await connect()];
    const channel = "presence-room";
    await a.subscribe(channel, auth(a, channel, { user_id: 7, user_info: { name: "Ann" } }));
    await b.subscribe(channel, auth(b, channel, { user_id: 7, user_info: { name: "Ann" } }));
    await until(() => receiver.events().length >= 2, "occupied and member_added");
    await quiet(200);
    expect(receiver.events()).toEqual([
      { name: "channel_occupied", channel },
      { name: "member_added", channel, user_id: "7" },
    ]);
    a.close();
    await quiet(3500);
    expect(receiver.events()).toHaveLength(2);
    b.close();
    await until(() => receiver.events().length === 4, "member_removed and vacated", 5000);
    expect(receiver.events().slice(2)).toEqual([
      { name: "member_removed", channel, user_id: "7" },
      { name: "channel_vacated", channel },
    ]);
  }, 15_000);

  test("client_event on private (no user_id) and presence (user_id) channels, data as a string; none on public channels", async () => {
    const { receiver } = await start({ event_types: ["client_event"] });
    const [sender, other] = [await connect(), await connect()];
    await sender.subscribe("private-chat", auth(sender, "private-chat"));
    await sender.subscribe("presence-chat", auth(sender, "presence-chat", { user_id: "u1" }));
    await sender.subscribe("public-chat");
    await other.subscribe("private-chat", auth(other, "private-chat"));
    sender.send({ event: "client-typing", channel: "public-chat", data: { who: "me" } });
    sender.send({ event: "client-typing", channel: "private-chat", data: { who: "me" } });
    sender.send({ event: "client-typing", channel: "presence-chat", data: { who: "me" } });
    await other.next("client-typing");
    await until(() => receiver.events().length === 2, "two client events");
    await quiet(200);
    expect(receiver.events()).toEqual([
      { name: "client_event", channel: "private-chat", event: "client-typing", data: '{"who":"me"}', socket_id: sender.socketId },
      { name: "client_event", channel: "presence-chat", event: "client-typing", data: '{"who":"me"}', socket_id: sender.socketId, user_id: "u1" },
    ]);
  });

  test("cache_miss when a cache channel has nothing; none once it has an event", async () => {
    const { receiver, server } = await start({ event_types: ["cache_miss"] });
    const client = await connect();
    await client.subscribe("cache-prices");
    await until(() => receiver.events().length === 1, "cache_miss");
    expect(receiver.events()).toEqual([{ name: "cache_miss", channel: "cache-prices" }]);
    server.hub.deliver(server.hub.apps.findById(APP.app_id)!, "cache-prices", JSON.stringify({ event: "tick", channel: "cache-prices", data: "1" }), null);
    const late = await connect();
    await late.subscribe("cache-prices");
    await late.next("tick");
    await quiet(200);
    expect(receiver.events()).toHaveLength(1);
  });

  test("the filter and event_types pick what a receiver gets", async () => {
    const { receiver } = await start({ event_types: "channel_occupied", filter: { channel_name_starts_with: "private-", channel_name_ends_with: "-hooked" } });
    const client = await connect();
    for (const channel of ["private-a-hooked", "private-b", "public-hooked"]) {
      await client.subscribe(channel, channel.startsWith("private-") ? auth(client, channel) : {});
    }
    await until(() => receiver.events().length === 1, "one occupied");
    await quiet(200);
    expect(receiver.events()).toEqual([{ name: "channel_occupied", channel: "private-a-hooked" }]);
  });
});

describe("the grace delay", () => {
  test("a page reload (leave and come back within 3 s) sends nothing", async () => {
    const { receiver } = await start();
    const channel = "presence-page";
    const first = await connect();
    await first.subscribe(channel, auth(first, channel, { user_id: 1 }));
    await first.subscribe("news");
    await until(() => receiver.events().length === 4, "occupied ×2, member_added, count");
    const before = receiver.events().length;
    first.close();
    await quiet(300);
    const second = await connect();
    await second.subscribe(channel, auth(second, channel, { user_id: 1 }));
    await second.subscribe("news");
    await quiet(3500);
    expect(receiver.events().slice(before)).toEqual([]);
  }, 10_000);
});

describe("delivery", () => {
  test("batching on: events of one window share a request", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"], batching: { enabled: true, duration: 200, max_events: 50 } });
    const client = await connect();
    for (let i = 0; i < 5; i++) client.send({ event: "pusher:subscribe", data: { channel: `room-${i}` } });
    await until(() => receiver.events().length === 5, "five occupied");
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.valid).toBe(true);
    expect(names(receiver.events())).toEqual(Array(5).fill("channel_occupied"));
  });

  test("batching: max_events sends a full batch at once", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"] }, { batching: { enabled: true, duration: 10_000, max_events: 3 } });
    const client = await connect();
    for (let i = 0; i < 3; i++) client.send({ event: "pusher:subscribe", data: { channel: `room-${i}` } });
    await until(() => receiver.events().length === 3, "a full batch well before the window ends");
    expect(receiver.received).toHaveLength(1);
  });

  test("a 500 is retried after ~1 s, and counted", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"] }, {}, (index) => (index === 0 ? 500 : 200));
    const client = await connect();
    await client.subscribe("retry-me");
    await until(() => receiver.events().length === 1, "the retried request", 4000);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.rawBody).toBe(receiver.received[0]!.rawBody);
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(900);
    // The receiver has the request before the server has read its answer.
    await until(async () => (await metrics()).get('reverb_webhooks_sent_total{app="123456"}') === 1, "the delivery to be counted");
    const samples = await metrics();
    expect(samples.get('reverb_webhooks_retried_total{app="123456"}')).toBe(1);
    expect(samples.get('reverb_webhooks_queued{app="123456"}')).toBe(0);
  });

  test("a request that times out is retried", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"] }, { request_timeout: 300 }, (index) => (index === 0 ? "hang" : 200));
    const client = await connect();
    await client.subscribe("slow");
    await until(() => receiver.events().length === 1, "the retried request", 4000);
    expect(receiver.requests).toBe(2);
    expect((await metrics()).get('reverb_webhooks_retried_total{app="123456"}')).toBe(1);
  });

  test("429 and 408 are retried like a 500", async () => {
    const replies: Reply[] = [429, 408, 200];
    const { receiver } = await start({ event_types: ["channel_occupied"] }, {}, (index) => replies[index] ?? 200);
    const client = await connect();
    await client.subscribe("busy-receiver");
    await until(() => receiver.events().length === 1, "the third attempt", 5000);
    expect(receiver.requests).toBe(3);
    expect((await metrics()).get('reverb_webhooks_retried_total{app="123456"}')).toBe(2);
  });

  test("gives up when the retry window closes", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"], filter: { channel_name_starts_with: "down" } }, { retry_window: 1500 }, () => 503);
    const client = await connect();
    await client.subscribe("down-1");
    // Attempts at 0 and 1 s; the next (3 s) is past the 1.5 s window.
    await until(async () => (await metrics()).get('reverb_webhooks_failed_total{app="123456"}') === 1, "give-up", 4000);
    expect(receiver.requests).toBe(2);
    await quiet(1200);
    expect(receiver.requests).toBe(2);
  });

  test("a 404 is dropped without retry", async () => {
    const { receiver } = await start({ event_types: ["channel_occupied"] }, {}, () => 404);
    const client = await connect();
    await client.subscribe("gone");
    await until(async () => (await metrics()).get('reverb_webhooks_failed_total{app="123456"}') === 1, "refused");
    await quiet(1200);
    expect(receiver.requests).toBe(1);
    expect((await metrics()).get('reverb_webhooks_retried_total{app="123456"}')).toBe(0);
  });

  test("a dead endpoint under load: every message is delivered, the queue stays bounded and drops are counted", async () => {
    // A port nobody listens on: every request fails at once and is retried.
    const dead = new WebhookReceiver();
    const deadUrl = dead.url;
    dead.stop();
    await quiet(50);
    receiver = new WebhookReceiver();
    const log = new RecordingLogger();
    server = await startTestServer(
      {
        apps: [{ ...APP, webhooks: [{ url: deadUrl, event_types: ["client_event"] }] }],
        server: { metrics_token: TOKEN, webhooks: { max_queue: 50 } },
      },
      log,
    );
    const [sender, listener] = [await connect(), await connect()];
    await sender.subscribe("private-busy", auth(sender, "private-busy"));
    await listener.subscribe("private-busy", auth(listener, "private-busy"));
    const COUNT = 2000;
    for (let i = 0; i < COUNT; i++) sender.send({ event: "client-tick", channel: "private-busy", data: { i } });
    await listener.waitFor(() => listener.count("client-tick") === COUNT, "every client event", 10_000);
    const samples = await metrics();
    expect(samples.get('reverb_webhooks_queued{app="123456"}')).toBeLessThanOrEqual(50);
    expect(samples.get('reverb_webhooks_dropped_total{app="123456"}')).toBeGreaterThanOrEqual(COUNT - 50);
    expect(samples.get('reverb_webhooks_sent_total{app="123456"}')).toBe(0);
    // One line for the whole burst of drops.
    expect(log.matching("WARN", "queue full")).toHaveLength(1);
  });

  test("drain sends what is queued before stopping", async () => {
    const { receiver, server: running } = await start({ event_types: ["channel_occupied", "channel_vacated"] }, { batching: { enabled: true, duration: 60_000, max_events: 100 } });
    const client = await connect();
    await client.subscribe("pending");
    await quiet(100);
    expect(receiver.requests).toBe(0);
    await running.drain("test", 2000);
    server = null;
    // Alone, the vacated of the closed connection goes out now rather than after 3 s.
    expect(receiver.events()).toEqual([
      { name: "channel_occupied", channel: "pending" },
      { name: "channel_vacated", channel: "pending" },
    ]);
  });

  test("drain logs how many events could not be sent within the timeout", async () => {
    receiver = new WebhookReceiver(() => "hang");
    const log = new RecordingLogger();
    const running = await startTestServer({ apps: [{ ...APP, webhooks: [{ url: receiver.url, event_types: ["channel_occupied"] }] }] }, log);
    const client = await RawClient.connect(running.wsUrl());
    await client.subscribe("stuck");
    await until(() => receiver!.requests === 1, "the hanging request");
    const started = Date.now();
    await running.drain("test", 500);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(log.matching("WARN", "1 events for http://127.0.0.1:")).toHaveLength(1);
    expect(log.matching("WARN", "were not sent before shutdown")).toHaveLength(1);
  });
});
