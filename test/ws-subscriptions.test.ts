import { afterEach, describe, expect, test } from "bun:test";
import PusherServer from "pusher";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients, ENCRYPTION_MASTER_KEY, triggerEvent } from "./helpers/clients.ts";
import { quiet, type RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until, within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

const USER = { user_id: 1, user_info: { name: "Test User" } };

/** Subscribes the way pusher-js does: signed for authenticated channels, channel_data for presence. */
function subscribeSigned(client: RawClient, channel: string) {
  if (!/^(private|presence)/.test(channel)) return client.subscribe(channel);
  const channelData = channel.startsWith("presence") ? JSON.stringify(USER) : null;
  return client.subscribe(channel, {
    auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData),
    ...(channelData ? { channel_data: channelData } : {}),
  });
}

function succeeded(channel: string, data = "{}") {
  return { event: "pusher_internal:subscription_succeeded", data, channel };
}

const PRESENCE_OF_USER = JSON.stringify({ presence: { count: 1, ids: [1], hash: { "1": { name: "Test User" } } } });

describe("subscription_succeeded frames", () => {
  const cases: Array<[string, string]> = [
    ["test-channel", "{}"],
    ["private-test-channel", "{}"],
    ["private-encrypted-test-channel", "{}"],
    ["presence-test-channel", PRESENCE_OF_USER],
    ["cache-test-channel", "{}"],
    ["private-cache-test-channel", "{}"],
    ["private-encrypted-cache-test-channel", "{}"],
    ["presence-cache-test-channel", PRESENCE_OF_USER],
  ];

  test.each(cases)("%s", async (channel, data) => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const frame = await subscribeSigned(client, channel);
    expect(frame).toEqual(succeeded(channel, data));
    expect(Object.keys(frame)).toEqual(["event", "data", "channel"]);
  });

  test("subscribe data sent as a JSON string (Java/Flutter clients) is accepted", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const auth = signChannel(APP.key, APP.secret, client.socketId, "private-java");
    client.send({ event: "pusher:subscribe", data: JSON.stringify({ channel: "private-java", auth }) });
    expect(await client.next("pusher_internal:subscription_succeeded")).toEqual(succeeded("private-java"));
  });

  test("re-subscribing to the same channel answers succeeded again without a second membership", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const other = await clients.raw(server.wsUrl());
    await subscribeSigned(other, "presence-room");
    await subscribeSigned(client, "presence-room");
    const again = await subscribeSigned(client, "presence-room");
    expect(JSON.parse(again.data as string).presence.count).toBe(1);
    await quiet(100);
    expect(other.count("pusher_internal:member_added")).toBe(0);
  });
});

describe("cache channels", () => {
  const cacheChannels = ["cache-test-channel", "private-cache-test-channel", "presence-cache-test-channel", "private-encrypted-cache-test-channel"];

  test.each(cacheChannels)("%s: an empty cache answers pusher:cache_miss right after succeeded", async (channel) => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    await subscribeSigned(client, channel);
    await client.next("pusher:cache_miss");
    await quiet(50);
    expect(client.frames.slice(1).map((frame) => frame.event)).toEqual(["pusher_internal:subscription_succeeded", "pusher:cache_miss"]);
    expect(client.frames[2]).toEqual({ event: "pusher:cache_miss", channel });
    expect(Object.keys(client.frames[2]!)).toEqual(["event", "channel"]);
  });

  test.each(cacheChannels)("%s: the last delivered event is replayed to a new subscriber", async (channel) => {
    server = await startTestServer();
    const listener = await clients.raw(server.wsUrl());
    await subscribeSigned(listener, channel);
    await triggerEvent(server, { name: "App\\Events\\TestEvent", data: '{"n":1}', channel });
    await triggerEvent(server, { name: "App\\Events\\TestEvent", data: '{"n":2}', channel });
    await until(() => listener.count("App\\Events\\TestEvent") === 2, "both events");

    const late = await clients.raw(server.wsUrl());
    await subscribeSigned(late, channel);
    const replay = await late.next("App\\Events\\TestEvent");
    expect(replay).toEqual({ event: "App\\Events\\TestEvent", data: '{"n":2}', channel });
    await quiet(50);
    expect(late.frames.slice(1).map((frame) => frame.event)).toEqual(["pusher_internal:subscription_succeeded", "App\\Events\\TestEvent"]);
  });

  test("a client event on a cache channel is what gets replayed", async () => {
    server = await startTestServer();
    const sender = await clients.raw(server.wsUrl());
    const listener = await clients.raw(server.wsUrl());
    await sender.subscribe("cache-typing");
    await listener.subscribe("cache-typing");
    sender.send({ event: "client-typing", channel: "cache-typing", data: { id: 7 } });
    await listener.next("client-typing");

    const late = await clients.raw(server.wsUrl());
    await late.subscribe("cache-typing");
    expect(await late.next("client-typing")).toEqual({ event: "client-typing", channel: "cache-typing", data: { id: 7 } });
  });

  test("the cache outlives its subscribers (Pusher semantics): an event sent to an empty channel is replayed", async () => {
    server = await startTestServer();
    await triggerEvent(server, { name: "stored", data: "{}", channel: "cache-empty" });
    const client = await clients.raw(server.wsUrl());
    await client.subscribe("cache-empty");
    expect(await client.next("stored")).toEqual({ event: "stored", data: "{}", channel: "cache-empty" });
    expect(client.count("pusher:cache_miss")).toBe(0);
  });

  test("member_added and member_removed are never what a presence-cache channel replays", async () => {
    server = await startTestServer();
    const channel = "presence-cache-room";
    const first = await clients.raw(server.wsUrl());
    await subscribeSigned(first, channel);
    await triggerEvent(server, { name: "kept", data: "{}", channel });
    await first.next("kept");

    const visitor = await clients.raw(server.wsUrl());
    await visitor.subscribe(channel, {
      auth: signChannel(APP.key, APP.secret, visitor.socketId, channel, '{"user_id":2}'),
      channel_data: '{"user_id":2}',
    });
    await first.next("pusher_internal:member_added");
    visitor.close();
    await first.next("pusher_internal:member_removed");

    const late = await clients.raw(server.wsUrl());
    await subscribeSigned(late, channel);
    expect(await late.next("kept")).toEqual({ event: "kept", data: "{}", channel });
    await quiet(50);
    expect(late.count("pusher_internal:member_removed")).toBe(0);
    expect(late.count("pusher_internal:member_added")).toBe(0);
  });

  test("pusher-js reports a cache miss on an empty cache channel", async () => {
    server = await startTestServer();
    const pusher = await clients.pusher(server);
    const channel = pusher.subscribe("cache-pusher-js");
    await within(new Promise<void>((resolve) => channel.bind("pusher:cache_miss", () => resolve())), "pusher:cache_miss");
  });
});

describe("pusher-js subscribes and receives events", () => {
  const channels = ["news", "private-news", "presence-news", "cache-news", "private-cache-news", "presence-cache-news"];

  test.each(channels)("%s", async (name) => {
    server = await startTestServer();
    const pusher = await clients.pusher(server, { user: USER });
    const channel = pusher.subscribe(name);
    await within(new Promise<void>((resolve) => channel.bind("pusher:subscription_succeeded", () => resolve())), `${name} subscribed`);
    expect(channel.subscribed).toBe(true);

    const received = within(new Promise<unknown>((resolve) => channel.bind("App\\Events\\Posted", resolve)), "the event");
    await triggerEvent(server, { name: "App\\Events\\Posted", data: '{"title":"hello"}', channel: name });
    expect(await received).toEqual({ title: "hello" });
  });

  test("private-encrypted: pusher-js decrypts an event the Pusher server SDK encrypted through our API", async () => {
    server = await startTestServer();
    const pusher = await clients.pusher(server);
    const channel = pusher.subscribe("private-encrypted-news");
    await within(new Promise<void>((resolve) => channel.bind("pusher:subscription_succeeded", () => resolve())), "subscribed");

    const sdk = new PusherServer({
      appId: APP.app_id,
      key: APP.key,
      secret: APP.secret,
      host: "127.0.0.1",
      port: String(server.port),
      useTLS: false,
      encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY.toString("base64"),
    });
    const received = within(new Promise<unknown>((resolve) => channel.bind("secret-posted", resolve)), "the decrypted event");
    const response = await sdk.trigger("private-encrypted-news", "secret-posted", { title: "hidden" });
    expect(response.status).toBe(200);
    expect(await received).toEqual({ title: "hidden" });
  });

  test("an API event with socket_id reaches every subscriber but that socket (Echo's toOthers)", async () => {
    server = await startTestServer();
    const author = await clients.echo(server);
    const reader = await clients.echo(server);
    const seen = { author: 0, reader: 0 };
    let ready = 0;
    author.channel("posts").subscribed(() => ready++).listen(".posted", () => seen.author++);
    reader.channel("posts").subscribed(() => ready++).listen(".posted", () => seen.reader++);
    await until(() => ready === 2, "both subscribed");

    await triggerEvent(server, { name: "posted", data: "{}", channel: "posts", socket_id: author.socketId()! });
    await triggerEvent(server, { name: "posted", data: "{}", channel: "posts" });
    await until(() => seen.reader === 2, "the reader to get both events");
    await quiet(50);
    expect(seen.author).toBe(1);
  });

  test("private-encrypted: the server relays the ciphertext untouched", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    await subscribeSigned(client, "private-encrypted-raw");
    const sealed = JSON.stringify({ nonce: "bm9uY2U=", ciphertext: "Y2lwaGVy" });
    await triggerEvent(server, { name: "sealed", data: sealed, channel: "private-encrypted-raw" });
    expect(await client.next("sealed")).toEqual({ event: "sealed", data: sealed, channel: "private-encrypted-raw" });
  });
});
