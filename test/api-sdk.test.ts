import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type Pusher from "pusher";
import { signChannel } from "../src/protocol/signatures.ts";
import { JsClient, sdkFor } from "./helpers/api.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, TEST_WORKERS, startTestServer, type TestServer } from "./helpers/server.ts";
import { until, within } from "./helpers/waits.ts";

/** The official `pusher` server SDK (what Node backends use) against a real server. */

let server: TestServer;
let sdk: Pusher;
let raws: RawClient[];
let jsClients: JsClient[];

beforeEach(async () => {
  server = await startTestServer();
  sdk = sdkFor(server);
  raws = [];
  jsClients = [];
});

afterEach(async () => {
  for (const client of raws) client.close();
  for (const client of jsClients) client.disconnect();
  await server.stop();
});

async function raw(...channels: string[]): Promise<RawClient> {
  const client = await RawClient.connect(server.wsUrl());
  raws.push(client);
  for (const channel of channels) expect((await client.subscribe(channel)).event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

async function js(...channels: string[]): Promise<JsClient> {
  const client = await JsClient.connect(server);
  jsClients.push(client);
  for (const channel of channels) await client.subscribe(channel);
  return client;
}

/** A raw presence member of `channel` with `user_id` (kept in its JSON type). */
async function member(channel: string, userId: unknown, client?: RawClient): Promise<RawClient> {
  client ??= await raw();
  const channelData = JSON.stringify({ user_id: userId, user_info: { name: `user ${userId}` } });
  const reply = await client.subscribe(channel, { auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData), channel_data: channelData });
  expect(reply.event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

/** The raw text of the first frame of `event` a client got, for key-order checks. */
function rawFrame(client: RawClient, event: string): string {
  const text = client.raw.find((frame) => (JSON.parse(frame) as { event: string }).event === event);
  if (text === undefined) throw new Error(`no ${event} frame`);
  return text;
}

async function body(response: { status: number; text(): Promise<string> }): Promise<unknown> {
  expect(response.status).toBe(200);
  return JSON.parse(await response.text());
}

describe("trigger", () => {
  test("a single-channel event answers {} and reaches raw and pusher-js subscribers as event, data, channel", async () => {
    const rawClient = await raw("test-channel");
    const jsClient = await js("test-channel");

    expect(await body(await sdk.trigger("test-channel", "my-event", { message: "héllo ✓" }))).toEqual({});

    const frame = await rawClient.next("my-event");
    expect(frame).toEqual({ event: "my-event", data: '{"message":"héllo ✓"}', channel: "test-channel" });
    expect(Object.keys(JSON.parse(rawFrame(rawClient, "my-event")))).toEqual(["event", "data", "channel"]);
    expect(await jsClient.next("my-event")).toEqual({ channel: "test-channel", event: "my-event", data: { message: "héllo ✓" } });
  });

  test("a multi-channel event reaches each channel's subscribers once per channel", async () => {
    const onOne = await raw("channel-one");
    const onTwo = await raw("channel-two");
    const onBoth = await js("channel-one", "channel-two");
    const elsewhere = await raw("channel-three");

    expect(await body(await sdk.trigger(["channel-one", "channel-two"], "multi", "payload"))).toEqual({});

    expect(await onOne.next("multi")).toEqual({ event: "multi", data: "payload", channel: "channel-one" });
    expect(await onTwo.next("multi")).toEqual({ event: "multi", data: "payload", channel: "channel-two" });
    await until(() => onBoth.events.length === 2, "both pusher-js events");
    expect(onBoth.events.map((event) => event.channel).sort()).toEqual(["channel-one", "channel-two"]);
    await quiet();
    expect(onOne.count("multi")).toBe(1);
    expect(onTwo.count("multi")).toBe(1);
    expect(onBoth.events).toHaveLength(2);
    expect(elsewhere.count("multi")).toBe(0);
  });

  test("socket_id of a raw client excludes only that socket, and only for that trigger", async () => {
    const excluded = await raw("test-channel");
    const other = await raw("test-channel");
    const jsClient = await js("test-channel");

    expect(await body(await sdk.trigger("test-channel", "first", "1", { socket_id: excluded.socketId }))).toEqual({});
    await other.next("first");
    await jsClient.next("first");

    await sdk.trigger("test-channel", "second", "2");
    await excluded.next("second");
    expect(excluded.count("first")).toBe(0);
    expect(other.count("first")).toBe(1);
  });

  test("socket_id of a pusher-js client excludes it; raw subscribers still get the event", async () => {
    const jsClient = await js("test-channel");
    const rawClient = await raw("test-channel");

    await sdk.trigger("test-channel", "from-backend", { done: true }, { socket_id: jsClient.socketId });
    expect(await rawClient.next("from-backend")).toEqual({ event: "from-backend", data: '{"done":true}', channel: "test-channel" });

    await sdk.trigger("test-channel", "marker", "{}");
    await jsClient.next("marker");
    expect(jsClient.events.map((event) => event.event)).toEqual(["marker"]);
  });

  test("socket_id on a multi-channel trigger excludes the socket on every channel; others get both", async () => {
    const excluded = await raw("channel-one", "channel-two");
    const other = await raw("channel-one", "channel-two");

    await sdk.trigger(["channel-one", "channel-two"], "multi", "x", { socket_id: excluded.socketId });
    await other.waitFor(() => other.count("multi") === 2, "both channels");
    await sdk.trigger("channel-one", "marker", "x");
    await excluded.next("marker");
    expect(excluded.count("multi")).toBe(0);
  });

  test("socket_id of a socket that is not on a channel takes nothing away from that channel", async () => {
    const excluded = await raw("channel-one");
    const onTwo = await raw("channel-two");

    await sdk.trigger(["channel-one", "channel-two"], "partial", "x", { socket_id: excluded.socketId });
    expect(await onTwo.next("partial")).toEqual({ event: "partial", data: "x", channel: "channel-two" });
    await sdk.trigger("channel-one", "marker", "x");
    await excluded.next("marker");
    expect(excluded.count("partial")).toBe(0);
  });

  test("info asks for counts after delivery: user_count for presence, subscription_count for the rest", async () => {
    await member("presence-room", 1);
    await raw("test-channel");

    const response = await sdk.trigger(["presence-room", "test-channel"], "counted", "x", { info: "user_count,subscription_count" });
    expect(await body(response)).toEqual({
      channels: { "presence-room": { user_count: 1 }, "test-channel": { subscription_count: 1 } },
    });
  });
});

describe("triggerBatch", () => {
  test("answers {batch:{}} and delivers each item to its channel as event, channel, data", async () => {
    const one = await raw("channel-one");
    const two = await js("channel-two");

    const response = await sdk.triggerBatch([
      { channel: "channel-one", name: "batched", data: { n: 1 } },
      { channel: "channel-two", name: "batched", data: "plain" },
    ]);
    expect(await body(response)).toEqual({ batch: {} });

    expect(await one.next("batched")).toEqual({ event: "batched", channel: "channel-one", data: '{"n":1}' });
    expect(Object.keys(JSON.parse(rawFrame(one, "batched")))).toEqual(["event", "channel", "data"]);
    expect(await two.next("batched")).toEqual({ channel: "channel-two", event: "batched", data: "plain" });
    await quiet();
    expect(one.count("batched")).toBe(1);
  });

  test("info on some items answers a list aligned with the request", async () => {
    await member("presence-room", "7");
    await raw("test-channel");

    const response = await sdk.triggerBatch([
      { channel: "presence-room", name: "a", data: "1", info: "user_count" },
      { channel: "test-channel", name: "b", data: "2" },
    ]);
    expect(await body(response)).toEqual({ batch: [{ user_count: 1 }, {}] });
  });

  test("an item's socket_id excludes that socket from that item only", async () => {
    const excluded = await raw("test-channel");
    const other = await raw("test-channel");

    await sdk.triggerBatch([
      { channel: "test-channel", name: "skipped", data: "1", socket_id: excluded.socketId },
      { channel: "test-channel", name: "delivered", data: "2" },
    ]);
    await excluded.next("delivered");
    await other.next("delivered");
    expect(other.count("skipped")).toBe(1);
    expect(excluded.count("skipped")).toBe(0);
  });
});

describe("get", () => {
  test("/channels with filter_by_prefix and info lists matching occupied channels with their counts", async () => {
    await member("presence-room", 1);
    await member("presence-room", 2);
    await member("presence-lobby", 3, await raw("test-channel"));

    const filtered = await sdk.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count,subscription_count" } });
    expect(await body(filtered)).toEqual({ channels: { "presence-room": { user_count: 2 }, "presence-lobby": { user_count: 1 } } });

    const all = await sdk.get({ path: "/channels", params: { info: "user_count,subscription_count" } });
    expect(await body(all)).toEqual({
      channels: { "presence-room": { user_count: 2 }, "test-channel": { subscription_count: 1 }, "presence-lobby": { user_count: 1 } },
    });
  });

  test("/channels/{name} with info reports occupancy and the count that fits the channel type", async () => {
    await raw("test-channel");
    await raw("test-channel");

    const response = await sdk.get({ path: "/channels/test-channel", params: { info: "subscription_count,user_count" } });
    expect(await body(response)).toEqual({ occupied: true, subscription_count: 2 });
    expect(await body(await sdk.get({ path: "/channels/nobody-here" }))).toEqual({ occupied: false });
  });

  // Join order is one node's: across workers each lists members in the order it heard of them.
  test.skipIf(TEST_WORKERS > 1)("/channels/{name}/users lists each presence user once, in join order, ids in their JSON type", async () => {
    const first = await member("presence-room", 3);
    await member("presence-room", "2");
    await member("presence-room", 3);
    await member("presence-other", 9, first);

    const response = await sdk.get({ path: "/channels/presence-room/users" });
    expect(await body(response)).toEqual({ users: [{ id: 3 }, { id: "2" }] });
  });

  test("/connections counts distinct sockets subscribed to at least one channel", async () => {
    await raw("channel-one", "channel-two");
    await raw("channel-two");
    await raw();

    expect(await body(await sdk.get({ path: "/connections" }))).toEqual({ connections: 2 });
  });
});

describe("terminateUserConnections", () => {
  test("closes every socket of the presence user; other members see member_removed", async () => {
    const tabOne = await member("presence-room", 456);
    const tabTwo = await member("presence-room", 456);
    await member("presence-other", 456, tabTwo);
    const watcher = await member("presence-room", 789);
    const bystander = await raw("test-channel");

    expect(await body(await sdk.terminateUserConnections("456"))).toEqual({});

    const [closedOne, closedTwo] = await within(Promise.all([tabOne.closed, tabTwo.closed]), "the user's sockets to close");
    // Dropped without a close frame (1006), like Reverb, and without an error frame.
    expect(closedOne.code).toBe(1006);
    expect(closedTwo.code).toBe(1006);
    expect(tabOne.count("pusher:error")).toBe(0);

    const removed = await watcher.next("pusher_internal:member_removed");
    expect(removed).toEqual({ event: "pusher_internal:member_removed", data: '{"user_id":456}', channel: "presence-room" });
    await quiet();
    expect(watcher.count("pusher_internal:member_removed")).toBe(1);
    expect(await body(await sdk.get({ path: "/channels/presence-room/users" }))).toEqual({ users: [{ id: 789 }] });
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("an unknown user is a 200 {} that closes nobody", async () => {
    const someone = await member("presence-room", 1);
    expect(await body(await sdk.terminateUserConnections("does-not-exist"))).toEqual({});
    await quiet();
    expect(someone.ws.readyState).toBe(WebSocket.OPEN);
  });
});
