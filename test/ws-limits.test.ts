import { afterEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { RecordingLogger } from "./helpers/log.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until } from "./helpers/waits.ts";

let server: TestServer | null = null;
const opened: RawClient[] = [];

afterEach(async () => {
  for (const client of opened.splice(0)) client.close();
  await server?.stop();
  server = null;
});

async function connect(): Promise<RawClient> {
  const client = await RawClient.connect(server!.wsUrl());
  opened.push(client);
  return client;
}

function error(code: number, message: string) {
  return { event: "pusher:error", data: JSON.stringify({ code, message }) };
}

const TOO_MANY_CHANNELS = error(4300, "Subscription refused: this connection is on max_channels_per_connection channels");
const PRESENCE_FULL = error(4300, "Subscription refused: the presence channel has max_presence_members members");
const INVALID_USER_ID = error(4200, "Invalid message format: a presence user_id must be a string or a number");
const UNAUTHORIZED = error(4009, "Connection is unauthorized");
const NAME_TOO_LONG = error(4300, "Refused: the channel name is over max_channel_name_length characters");
const EVENT_TOO_LONG = error(4300, "Client event refused: the event name is over max_event_name_length characters");
const MEMBER_TOO_LARGE = error(4300, "Subscription refused: channel_data is over max_presence_member_size bytes");

/** Sends `count` subscribes at once and waits for as many answers. */
async function subscribeMany(client: RawClient, names: string[]): Promise<void> {
  const from = client.frames.length;
  for (const channel of names) client.send({ event: "pusher:subscribe", data: { channel } });
  await client.waitFor(() => client.frames.length - from >= names.length, `${names.length} answers`, 10_000);
}

async function stillServed(client: RawClient): Promise<void> {
  const pongs = client.count("pusher:pong");
  client.send({ event: "pusher:ping" });
  await client.waitFor(() => client.count("pusher:pong") > pongs, "pong");
}

async function presenceJoin(client: RawClient, channel: string, channelData: string) {
  return client.subscribe(channel, { auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData), channel_data: channelData });
}

async function occupied(): Promise<Record<string, unknown>> {
  const response = await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels`, undefined, APP);
  return ((await response.json()) as { channels: Record<string, unknown> }).channels;
}

describe("max_channels_per_connection", () => {
  test("the default is 1,000: the 1,001st subscription is refused with 4300, logged, and the socket stays open", async () => {
    const log = new RecordingLogger();
    server = await startTestServer({}, log);
    const client = await connect();
    await subscribeMany(client, Array.from({ length: 1000 }, (_, i) => `channel-${i}`));
    expect(client.count("pusher_internal:subscription_succeeded")).toBe(1000);

    expect(await client.subscribe("channel-1000")).toEqual(TOO_MANY_CHANNELS);
    expect(Object.keys(await occupied())).toHaveLength(1000);
    expect(log.matching("WARN", "max_channels_per_connection (1000)")).toHaveLength(1);
    await stillServed(client);

    // A channel it already holds is answered as before; a freed slot can be used again.
    expect((await client.subscribe("channel-999")).event).toBe("pusher_internal:subscription_succeeded");
    client.send({ event: "pusher:unsubscribe", data: { channel: "channel-0" } });
    expect((await client.subscribe("channel-1000")).event).toBe("pusher_internal:subscription_succeeded");
    expect(await client.subscribe("channel-1001")).toEqual(TOO_MANY_CHANNELS);
  });

  test("the limit is per connection: another socket subscribes as usual", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_channels_per_connection: 2 }] });
    const first = await connect();
    await first.subscribe("a");
    await first.subscribe("b");
    expect(await first.subscribe("c")).toEqual(TOO_MANY_CHANNELS);
    const second = await connect();
    expect((await second.subscribe("c")).event).toBe("pusher_internal:subscription_succeeded");
  });

  test("null means no limit", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_channels_per_connection: null }] });
    const client = await connect();
    await subscribeMany(client, Array.from({ length: 1200 }, (_, i) => `channel-${i}`));
    expect(client.count("pusher_internal:subscription_succeeded")).toBe(1200);
    expect(client.count("pusher:error")).toBe(0);
  });
});

describe("max_presence_members", () => {
  test("a new user past the limit is refused; more sockets of a member are not; a leave frees the slot", async () => {
    const log = new RecordingLogger();
    server = await startTestServer({ apps: [{ ...APP, max_presence_members: 2 }] }, log);
    const alice = await connect();
    const bob = await connect();
    const carol = await connect();
    const aliceAgain = await connect();
    expect((await presenceJoin(alice, "presence-room", '{"user_id":"alice"}')).event).toBe("pusher_internal:subscription_succeeded");
    expect((await presenceJoin(bob, "presence-room", '{"user_id":"bob"}')).event).toBe("pusher_internal:subscription_succeeded");
    expect(await presenceJoin(carol, "presence-room", '{"user_id":"carol"}')).toEqual(PRESENCE_FULL);
    expect(log.matching("WARN", "max_presence_members (2)")).toHaveLength(1);
    expect((await presenceJoin(aliceAgain, "presence-room", '{"user_id":"alice"}')).event).toBe("pusher_internal:subscription_succeeded");
    expect(alice.count("pusher_internal:member_added")).toBe(1);

    bob.close();
    await alice.next("pusher_internal:member_removed");
    const joined = await presenceJoin(carol, "presence-room", '{"user_id":"carol"}');
    expect(JSON.parse(joined.data as string).presence.ids).toEqual(["alice", "carol"]);
  });

  test("unlimited by default", async () => {
    server = await startTestServer();
    const members = await Promise.all(Array.from({ length: 120 }, () => connect()));
    for (const [i, member] of members.entries()) {
      expect((await presenceJoin(member, "presence-big", JSON.stringify({ user_id: i }))).event).toBe("pusher_internal:subscription_succeeded");
    }
  });
});

describe("max_channel_name_length and max_event_name_length", () => {
  test("200 by default: a longer channel name is refused on subscribe and on client events, logged, and the socket stays open", async () => {
    const log = new RecordingLogger();
    server = await startTestServer({ apps: [{ ...APP, accept_client_events_from: "all" }] }, log);
    const client = await connect();
    const peer = await connect();
    expect((await client.subscribe("c".repeat(200))).event).toBe("pusher_internal:subscription_succeeded");
    expect(await client.subscribe("c".repeat(201))).toEqual(NAME_TOO_LONG);
    expect(log.matching("WARN", "max_channel_name_length (200)")).toHaveLength(1);
    client.send({ event: "client-x", channel: "d".repeat(201), data: {} });
    await client.waitFor(() => client.count("pusher:error") === 2, "the client event refusal");
    expect(client.frames.at(-1)).toEqual(NAME_TOO_LONG);
    await stillServed(client);

    await peer.subscribe("room");
    await client.subscribe("room");
    client.send({ event: `client-${"e".repeat(193)}`, channel: "room", data: {} });
    await peer.next(`client-${"e".repeat(193)}`);
    client.send({ event: `client-${"e".repeat(194)}`, channel: "room", data: {} });
    await client.waitFor(() => client.count("pusher:error") === 3, "the event name refusal");
    expect(client.frames.at(-1)).toEqual(EVENT_TOO_LONG);
    expect(log.matching("WARN", "max_event_name_length (200)")).toHaveLength(1);
    await stillServed(client);
    expect(peer.count(`client-${"e".repeat(194)}`)).toBe(0);
  });

  test("configurable, and null turns them off", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_channel_name_length: 5, max_event_name_length: null }] });
    const client = await connect();
    expect(await client.subscribe("abcdef")).toEqual(NAME_TOO_LONG);
    await server.stop();
    server = await startTestServer({ apps: [{ ...APP, max_channel_name_length: null }] });
    const other = await connect();
    expect((await other.subscribe("c".repeat(5000))).event).toBe("pusher_internal:subscription_succeeded");
  });
});

describe("max_presence_member_size", () => {
  test("channel_data over the limit is refused with 4300 and logged; the member at the limit joins; the socket stays open", async () => {
    const log = new RecordingLogger();
    server = await startTestServer({ apps: [{ ...APP, max_presence_member_size: 40 }] }, log);
    const client = await connect();
    const atLimit = JSON.stringify({ user_id: 1, user_info: { n: "x".repeat(6) } });
    expect(Buffer.byteLength(atLimit)).toBe(40);
    const over = JSON.stringify({ user_id: 2, user_info: { n: "xxxxxé" } });
    expect([over.length, Buffer.byteLength(over)]).toEqual([40, 41]);
    expect(await presenceJoin(client, "presence-a", over)).toEqual(MEMBER_TOO_LARGE);
    expect(log.matching("WARN", "max_presence_member_size (40 bytes)")).toHaveLength(1);
    expect((await presenceJoin(client, "presence-a", atLimit)).event).toBe("pusher_internal:subscription_succeeded");
    await stillServed(client);
  });
});

describe("presence user_id", () => {
  const refused: Array<[string, string]> = [
    ["an object with a non-callable toString", '{"user_id":{"toString":1}}'],
    ["an object", '{"user_id":{"id":1}}'],
    ["an array", '{"user_id":[1]}'],
    ["true", '{"user_id":true}'],
    ["null", '{"user_id":null}'],
  ];

  test.each(refused)("%s is refused with a clear 4200, logged as a warning, never an exception", async (_, channelData) => {
    const log = new RecordingLogger();
    server = await startTestServer({}, log);
    const watcher = await connect();
    await presenceJoin(watcher, "presence-room", '{"user_id":"watcher"}');
    const client = await connect();
    expect(await presenceJoin(client, "presence-room", channelData)).toEqual(INVALID_USER_ID);
    expect(log.matching("WARN", "neither a string nor a number")).toHaveLength(1);
    expect(log.matching("ERROR", "")).toEqual([]);
    await stillServed(client);
    const users = await signedFetch(server.url, "GET", `/apps/${APP.app_id}/channels/presence-room/users`, undefined, APP);
    expect(await users.json()).toEqual({ users: [{ id: "watcher" }] });
    expect(watcher.count("pusher_internal:member_added")).toBe(0);
  });

  test("strings and numbers are members, with their JSON type kept", async () => {
    server = await startTestServer();
    const first = await connect();
    const second = await connect();
    const alone = await presenceJoin(first, "presence-room", '{"user_id":"u-1"}');
    expect(JSON.parse(alone.data as string).presence.ids).toEqual(["u-1"]);
    const joined = await presenceJoin(second, "presence-room", '{"user_id":2.5}');
    expect(JSON.parse(joined.data as string).presence.ids).toContain(2.5);
    // Across workers the second may not have heard of the first yet; the first hears of it either way.
    expect(JSON.parse((await first.next("pusher_internal:member_added")).data as string)).toEqual({ user_id: 2.5 });
  });
});

describe("channel auth key", () => {
  test("a valid signature behind another app's key is refused, as Pusher refuses it", async () => {
    server = await startTestServer();
    const client = await connect();
    const signature = signChannel(APP.key, APP.secret, client.socketId, "private-room").split(":")[1]!;
    expect(await client.subscribe("private-room", { auth: `someone-elses-key:${signature}` })).toEqual(UNAUTHORIZED);
    expect((await client.subscribe("private-room", { auth: `${APP.key}:${signature}` })).event).toBe("pusher_internal:subscription_succeeded");
  });
});

describe("exceptions in handlers", () => {
  test("are answered (4200 on the socket, 500 over HTTP), logged as errors and counted in /metrics", async () => {
    const log = new RecordingLogger();
    server = await startTestServer({ server: { metrics_token: "t" } }, log);
    const client = await connect();
    // A fault injected into the real server: a bug that throws on one channel, for one request.
    const hub = server.hub as unknown as { stats: (...args: unknown[]) => unknown; message: (...args: unknown[]) => unknown };
    const message = hub.message.bind(hub);
    hub.message = (connection: unknown, text: unknown) => {
      if (String(text).includes("buggy")) throw new Error("injected bug");
      return message(connection, text);
    };
    hub.stats = () => {
      throw new Error("injected bug");
    };

    const from = client.frames.length;
    client.send({ event: "pusher:subscribe", data: { channel: "buggy" } });
    expect(await client.next("pusher:error", from)).toEqual(error(4200, "Invalid message format"));
    await stillServed(client);
    const response = await signedFetch(server.url, "GET", `/apps/${APP.app_id}/channels`, undefined, APP);
    expect(response.status).toBe(500);

    const metrics = await (await fetch(`${server.url}/metrics?token=t`)).text();
    expect(metrics).toContain('reverb_handler_errors_total{where="websocket"} 1');
    expect(metrics).toContain('reverb_handler_errors_total{where="http"} 1');
    await until(() => log.matching("ERROR", "injected bug").length === 2, "two ERROR lines");
  });
});
