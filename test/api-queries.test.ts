import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, TEST_WORKERS, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";

/** The GET routes' answers, byte counts where Reverb's tests pin them, and /up. */

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

async function subscriber(...channels: string[]): Promise<RawClient> {
  const client = await RawClient.connect(server.wsUrl());
  clients.push(client);
  for (const channel of channels) expect((await client.subscribe(channel)).event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

/** Joins an authenticated channel; `channelData` is sent verbatim (presence needs it). */
async function join(channel: string, channelData: string | null, client?: RawClient): Promise<RawClient> {
  client ??= await subscriber();
  const auth = signChannel(APP.key, APP.secret, client.socketId, channel, channelData);
  const reply = await client.subscribe(channel, channelData === null ? { auth } : { auth, channel_data: channelData });
  expect(reply.event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

const member = (channel: string, userId: unknown, client?: RawClient) => join(channel, JSON.stringify({ user_id: userId }), client);

interface Answer {
  status: number;
  body: unknown;
  length: string | null;
}

async function get(path: string, params?: Record<string, string>): Promise<Answer> {
  const response = await signedFetch(server.url, "GET", `/apps/${APP.app_id}${path}`, undefined, { key: APP.key, secret: APP.secret, params });
  return { status: response.status, body: JSON.parse(await response.text()), length: response.headers.get("content-length") };
}

async function ok(path: string, params?: Record<string, string>): Promise<unknown> {
  const answer = await get(path, params);
  expect(answer.status).toBe(200);
  return answer.body;
}

/**
 * Asks again until a 200 answer passes `check` (a close is processed asynchronously, and across
 * workers the answering one may not have heard of the channel yet); the last answer's body.
 */
async function settled(path: string, check: (body: unknown) => boolean): Promise<unknown> {
  const deadline = Date.now() + 3000;
  let answer = await get(path);
  while (!(answer.status === 200 && check(answer.body)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer = await get(path);
  }
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Asks again until the answer equals `expected`, then compares. */
async function until(path: string, expected: unknown): Promise<void> {
  expect(await settled(path, (body) => Bun.deepEquals(body, expected))).toEqual(expected);
}

describe("GET /channels", () => {
  test("with nothing occupied it is {\"channels\":{}}, an object as in Pusher", async () => {
    expect(await get("/channels")).toEqual({ status: 200, body: { channels: {} }, length: "15" });
  });

  test("without info every occupied channel maps to {}", async () => {
    await subscriber("test-channel-one", "test-channel-two");
    expect(await ok("/channels")).toEqual({ channels: { "test-channel-one": {}, "test-channel-two": {} } });
  });

  test("info=user_count adds user_count to presence channels only (Content-Length 81)", async () => {
    await subscriber("test-channel-one");
    await member("presence-test-channel-two", 1);
    expect(await get("/channels", { info: "user_count" })).toEqual({
      status: 200,
      body: { channels: { "test-channel-one": {}, "presence-test-channel-two": { user_count: 1 } } },
      length: "81",
    });
  });

  test("filter_by_prefix keeps only channels starting with the prefix", async () => {
    await subscriber("test-channel-one", "other-channel");
    await member("presence-test-channel-two", 1);
    expect(await ok("/channels", { filter_by_prefix: "test-" })).toEqual({ channels: { "test-channel-one": {} } });
    expect(await ok("/channels", { filter_by_prefix: "none-" })).toEqual({ channels: {} });
  });

  test("channels whose subscribers unsubscribed or disconnected are no longer listed", async () => {
    const leaving = await subscriber("test-channel-one", "test-channel-three");
    await subscriber("test-channel-two");

    leaving.send({ event: "pusher:unsubscribe", data: { channel: "test-channel-one" } });
    await until("/channels", { channels: { "test-channel-two": {}, "test-channel-three": {} } });

    leaving.close();
    await until("/channels", { channels: { "test-channel-two": {} } });
  });
});

describe("GET /channels/{name}", () => {
  test("two subscribers with info=user_count,subscription_count,cache: occupied and subscription_count (Content-Length 40)", async () => {
    await subscriber("test-channel");
    await subscriber("test-channel");
    expect(await get("/channels/test-channel", { info: "user_count,subscription_count,cache" })).toEqual({
      status: 200,
      body: { occupied: true, subscription_count: 2 },
      length: "40",
    });
  });

  test("an unknown channel is {\"occupied\":false}", async () => {
    expect(await ok("/channels/nobody-here", { info: "subscription_count" })).toEqual({ occupied: false });
  });

  test("a presence channel with two sockets of one user reports user_count 1 and no subscription_count", async () => {
    await member("presence-room", 5);
    await member("presence-room", 5);
    expect(await ok("/channels/presence-room", { info: "user_count,subscription_count" })).toEqual({ occupied: true, user_count: 1 });
  });

  test("only what was asked for and fits the type is returned", async () => {
    await subscriber("test-channel");
    expect(await ok("/channels/test-channel", { info: "cache" })).toEqual({ occupied: true });
    expect(await ok("/channels/test-channel")).toEqual({ occupied: true });
  });

  test("info=cache on a cache channel returns the last event as an object", async () => {
    const client = await subscriber("cache-news");
    const event = { name: "headline", channel: "cache-news", data: '{"some":"data"}' };
    const sent = await signedFetch(server.url, "POST", `/apps/${APP.app_id}/events`, event, { key: APP.key, secret: APP.secret });
    expect(sent.status).toBe(200);
    await client.next("headline");

    expect(await ok("/channels/cache-news", { info: "subscription_count,cache" })).toEqual({
      occupied: true,
      subscription_count: 1,
      cache: { event: "headline", data: '{"some":"data"}', channel: "cache-news" },
    });
  });

  test("a presence-cache channel reports user_count and its cache", async () => {
    await member("presence-cache-room", "ada");
    const event = { name: "state", channel: "presence-cache-room", data: "{}" };
    expect((await signedFetch(server.url, "POST", `/apps/${APP.app_id}/events`, event, { key: APP.key, secret: APP.secret })).status).toBe(200);
    expect(await ok("/channels/presence-cache-room", { info: "user_count,cache" })).toEqual({
      occupied: true,
      user_count: 1,
      cache: { event: "state", data: "{}", channel: "presence-cache-room" },
    });
  });

  test("a name with @ , ; = works raw or percent-encoded", async () => {
    const name = "room@a,b;c=d";
    await subscriber(name);
    expect(await ok(`/channels/${name}`, { info: "subscription_count" })).toEqual({ occupied: true, subscription_count: 1 });
    expect(await ok(`/channels/${encodeURIComponent(name)}`, { info: "subscription_count" })).toEqual({ occupied: true, subscription_count: 1 });
  });
});

describe("GET /channels/{name}/users", () => {
  // Users are listed in the order the answering node heard of them: join order on one node, but
  // across workers a member joined on the other worker may be heard after a later local one.
  const inJoinOrder = test.skipIf(TEST_WORKERS > 1);

  inJoinOrder("three users are listed with their integer ids (Content-Length 38)", async () => {
    for (const id of [1, 2, 3]) await member("presence-room", id);
    expect(await get("/channels/presence-room/users")).toEqual({
      status: 200,
      body: { users: [{ id: 1 }, { id: 2 }, { id: 3 }] },
      length: "38",
    });
  });

  inJoinOrder("a user on several sockets is listed once, at the place they first joined", async () => {
    await member("presence-room", 3);
    await member("presence-room", 2);
    await member("presence-room", 3);
    expect(await ok("/channels/presence-room/users")).toEqual({ users: [{ id: 3 }, { id: 2 }] });
  });

  test("ids keep their JSON type: strings stay strings, numbers stay numbers", async () => {
    await member("presence-room", "42");
    await member("presence-room", 42.5);
    const { users } = (await settled("/channels/presence-room/users", (body) => (body as { users: unknown[] }).users.length === 2)) as { users: Array<{ id: unknown }> };
    expect(users.toSorted((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([{ id: "42" }, { id: 42.5 }]);
  });

  test("a non-presence channel is 400 {} and an unknown presence channel is 404 {}", async () => {
    await subscriber("test-channel");
    expect(await get("/channels/test-channel/users")).toEqual({ status: 400, body: {}, length: "2" });
    expect(await get("/channels/presence-nobody/users")).toEqual({ status: 404, body: {}, length: "2" });
  });

  test("a member who left is no longer listed", async () => {
    await member("presence-room", 1);
    const leaving = await member("presence-room", 2);
    leaving.close();
    await until("/channels/presence-room/users", { users: [{ id: 1 }] });
  });
});

describe("GET /connections", () => {
  test("two sockets on two channels count 2 (Content-Length 17)", async () => {
    await subscriber("test-channel-one");
    await subscriber("test-channel-two");
    expect(await get("/connections")).toEqual({ status: 200, body: { connections: 2 }, length: "17" });
  });

  test("one socket on two channels counts once; a socket with no channel is not counted", async () => {
    await subscriber("test-channel-one", "test-channel-two");
    await subscriber();
    expect(await ok("/connections")).toEqual({ connections: 1 });
  });

  test("a socket that leaves its last channel stops counting", async () => {
    await subscriber("test-channel");
    const leaving = await subscriber("test-channel", "other-channel");
    leaving.send({ event: "pusher:unsubscribe", data: { channel: "test-channel" } });
    leaving.send({ event: "pusher:unsubscribe", data: { channel: "other-channel" } });
    await until("/connections", { connections: 1 });
  });
});

describe("GET /up", () => {
  test("answers {\"health\":\"OK\"} (Content-Length 15) without any signature", async () => {
    const response = await fetch(`${server.url}/up`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("15");
    expect(await response.json()).toEqual({ health: "OK" });
  });
});
