import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { sdkFor } from "./helpers/api.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";

/** POST /events and /batch_events built by hand: frames, key order, `info` answers, volume. */

let server: TestServer;
let clients: RawClient[];

beforeEach(async () => {
  server = await startTestServer();
  clients = [];
});

afterEach(async () => {
  for (const client of clients) client.close();
  await server.stop();
});

const KEYS = { key: APP.key, secret: APP.secret };

async function subscriber(...channels: string[]): Promise<RawClient> {
  const client = await RawClient.connect(server.wsUrl());
  clients.push(client);
  for (const channel of channels) expect((await client.subscribe(channel)).event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

async function presenceMember(channel: string, userId: unknown): Promise<RawClient> {
  const client = await subscriber();
  const channelData = JSON.stringify({ user_id: userId });
  const auth = signChannel(APP.key, APP.secret, client.socketId, channel, channelData);
  expect((await client.subscribe(channel, { auth, channel_data: channelData })).event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

function post(route: "events" | "batch_events", body: unknown): Promise<Response> {
  return signedFetch(server.url, "POST", `/apps/${APP.app_id}/${route}`, body, KEYS);
}

async function ok(response: Response): Promise<unknown> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  return JSON.parse(text);
}

function keysOfRaw(client: RawClient, event: string): string[] {
  const text = client.raw.find((frame) => (JSON.parse(frame) as { event: string }).event === event)!;
  return Object.keys(JSON.parse(text));
}

describe("POST /events", () => {
  test("with `channel` answers {} (Content-Length 2) and sends event, data, channel", async () => {
    const client = await subscriber("test-channel");
    const response = await post("events", { name: "greeting", channel: "test-channel", data: '{"text":"héllo / <b>"}' });
    expect(await ok(response)).toEqual({});
    expect(response.headers.get("content-length")).toBe("2");

    expect(await client.next("greeting")).toEqual({ event: "greeting", data: '{"text":"héllo / <b>"}', channel: "test-channel" });
    expect(keysOfRaw(client, "greeting")).toEqual(["event", "data", "channel"]);
  });

  test("a channel listed twice is delivered once and reported once", async () => {
    const client = await subscriber("test-channel");
    const response = await post("events", { name: "twice", channels: ["test-channel", "test-channel"], data: "x", info: "subscription_count" });
    expect(await ok(response)).toEqual({ channels: { "test-channel": { subscription_count: 1 } } });
    await client.next("twice");
    await quiet();
    expect(client.count("twice")).toBe(1);
  });

  test("info=user_count reports presence channels only; info=subscription_count the others only", async () => {
    await presenceMember("presence-test-channel-one", 1);
    await subscriber("test-channel-two");
    const channels = ["presence-test-channel-one", "test-channel-two"];

    expect(await ok(await post("events", { name: "e", channels, data: "{}", info: "user_count" }))).toEqual({
      channels: { "presence-test-channel-one": { user_count: 1 }, "test-channel-two": {} },
    });
    expect(await ok(await post("events", { name: "e", channels, data: "{}", info: "subscription_count" }))).toEqual({
      channels: { "presence-test-channel-one": {}, "test-channel-two": { subscription_count: 1 } },
    });
  });

  test("info=occupied and unknown attributes: empty channels report occupied false, nothing else", async () => {
    await subscriber("busy");
    const response = await post("events", { name: "e", channels: ["busy", "empty"], data: "{}", info: "occupied,nonsense" });
    expect(await ok(response)).toEqual({ channels: { busy: { occupied: true }, empty: { occupied: false } } });
  });

  test("an unknown socket_id excludes nobody", async () => {
    const client = await subscriber("test-channel");
    expect(await ok(await post("events", { name: "e", channel: "test-channel", data: "1", socket_id: "1234.5678" }))).toEqual({});
    await client.next("e");
  });

  test("socket_id names one live socket: a closed socket's id excludes nobody, though a new socket takes its place", async () => {
    const gone = await subscriber("test-channel");
    gone.close();
    await quiet();
    const [next, watcher] = [await subscriber("test-channel"), await subscriber("test-channel")];
    for (const client of [gone, next, watcher]) expect(client.socketId).toMatch(/^\d+\.\d+$/);
    expect(new Set([gone.socketId, next.socketId, watcher.socketId]).size).toBe(3);

    expect(await ok(await post("events", { name: "stale", channel: "test-channel", data: "1", socket_id: gone.socketId }))).toEqual({});
    await Promise.all([next.next("stale"), watcher.next("stale")]);

    expect(await ok(await post("events", { name: "own", channel: "test-channel", data: "2", socket_id: next.socketId }))).toEqual({});
    await watcher.next("own");
    await quiet();
    expect(next.count("own")).toBe(0);
  });

  test("an event for a channel nobody is on is accepted", async () => {
    expect(await ok(await post("events", { name: "e", channel: "nobody-here", data: "1" }))).toEqual({});
  });

  test("an event for an empty cache channel is kept and sent to the next subscriber", async () => {
    expect(await ok(await post("events", { name: "last-news", channel: "cache-news", data: '{"n":1}' }))).toEqual({});
    const late = await subscriber("cache-news");
    expect(await late.next("last-news")).toEqual({ event: "last-news", data: '{"n":1}', channel: "cache-news" });
    expect(late.count("pusher:cache_miss")).toBe(0);
  });

  test("100 channels in one call (the SDK's maximum) all receive the event", async () => {
    const channels = Array.from({ length: 100 }, (_, index) => `channel-${index}`);
    const all = await subscriber(...channels);
    const lastHalf = await subscriber(...channels.slice(50));

    const response = await sdkFor(server).trigger(channels, "fan-out", "x");
    expect(response.status).toBe(200);

    await all.waitFor(() => all.count("fan-out") === 100, "100 events");
    await lastHalf.waitFor(() => lastHalf.count("fan-out") === 50, "50 events");
    const received = all.frames.filter((frame) => frame.event === "fan-out").map((frame) => frame.channel);
    expect(new Set(received)).toEqual(new Set(channels));
    await quiet();
    expect(all.count("fan-out")).toBe(100);
  });
});

describe("POST /batch_events", () => {
  test("a batch of 10 answers {\"batch\":{}} (Content-Length 12) and delivers every item in order as event, channel, data", async () => {
    const channels = Array.from({ length: 10 }, (_, index) => `batch-${index}`);
    const client = await subscriber(...channels);
    const batch = channels.map((channel, index) => ({ name: `item-${index}`, channel, data: JSON.stringify({ index }) }));

    const response = await post("batch_events", { batch });
    expect(await ok(response)).toEqual({ batch: {} });
    expect(response.headers.get("content-length")).toBe("12");

    await client.waitFor(() => client.frames.filter((frame) => frame.event.startsWith("item-")).length === 10, "10 batch events");
    const events = client.frames.filter((frame) => frame.event.startsWith("item-"));
    expect(events).toEqual(batch.map((item) => ({ event: item.name, channel: item.channel, data: item.data })));
    expect(keysOfRaw(client, "item-0")).toEqual(["event", "channel", "data"]);
  });

  test("info on every item answers one object per item, in request order", async () => {
    await presenceMember("presence-room", 1);
    await subscriber("public-one", "public-two");
    const batch = [
      { name: "a", channel: "presence-room", data: "1", info: "user_count" },
      { name: "b", channel: "public-one", data: "2", info: "subscription_count" },
      { name: "c", channel: "public-two", data: "3", info: "subscription_count,user_count" },
    ];
    expect(await ok(await post("batch_events", { batch }))).toEqual({
      batch: [{ user_count: 1 }, { subscription_count: 1 }, { subscription_count: 1 }],
    });
  });

  test("ten batches of 10 in a row all arrive", async () => {
    const client = await subscriber("steady");
    for (let round = 0; round < 10; round++) {
      const batch = Array.from({ length: 10 }, (_, index) => ({ name: "tick", channel: "steady", data: String(round * 10 + index) }));
      expect(await ok(await post("batch_events", { batch }))).toEqual({ batch: {} });
    }
    await client.waitFor(() => client.count("tick") === 100, "100 ticks");
    expect(client.frames.filter((frame) => frame.event === "tick").map((frame) => Number(frame.data))).toEqual(
      Array.from({ length: 100 }, (_, index) => index),
    );
  });

  test("an empty batch is accepted and sends nothing", async () => {
    const client = await subscriber("test-channel");
    expect(await ok(await post("batch_events", { batch: [] }))).toEqual({ batch: {} });
    await quiet();
    expect(client.frames.at(-1)!.event).toBe("pusher_internal:subscription_succeeded");
  });
});
