import { afterEach, describe, expect, test } from "bun:test";
import Echo from "laravel-echo";
import Pusher from "pusher-js";
import { signChannel, signUser } from "../src/protocol/signatures.ts";
import { Clients } from "./helpers/clients.ts";
import { RecordingLogger } from "./helpers/log.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { sdkAt, signIn, type SignedInUser } from "./helpers/users.ts";
import { until, within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

async function start(app: Record<string, unknown> = {}, log?: RecordingLogger): Promise<TestServer> {
  server = await startTestServer({ apps: [{ ...APP, accept_client_events_from: "members", ...app }] }, log);
  return server;
}

const track = (client: { disconnect(): void }) => void clients.track(client);

function error(code: number, message: string) {
  return { event: "pusher:error", data: JSON.stringify({ code, message }) };
}

const RESERVED = error(4009, "Refused: # channels are reserved; #server-to-user-<id> is for its signed-in user only");

/** A raw socket that signs in with `user_data` verbatim, signed as the SDK signs it. */
async function rawSignIn(client: RawClient, userData: string, auth = signUser(APP.key, APP.secret, client.socketId, userData)): Promise<void> {
  client.send({ event: "pusher:signin", data: { auth, user_data: userData } });
}

function received(client: Pusher, into: unknown[]): void {
  client.user.bind_global((event: string, data: unknown) => into.push({ event, data }));
}

describe("pusher:signin", () => {
  test("pusher-js signs in through userAuthentication and receives sendToUser on every socket of that user only", async () => {
    const running = await start();
    const target = { port: running.port };
    const phone = await signIn(target, { id: "alice", user_info: { name: "Alice" } }, track);
    const laptop = await signIn(target, { id: "alice" }, track);
    const other = await signIn(target, { id: "bob" }, track);
    expect(phone.user.user_data).toEqual({ id: "alice", user_info: { name: "Alice" } });
    const got: Record<string, unknown[]> = { phone: [], laptop: [], other: [] };
    received(phone, got.phone!);
    received(laptop, got.laptop!);
    received(other, got.other!);

    await sdkAt(target).sendToUser("alice", "greeting", { text: "hi" });
    await until(() => got.phone!.length === 1 && got.laptop!.length === 1, "both of alice's sockets to get the event");
    expect(got.phone).toEqual([{ event: "greeting", data: { text: "hi" } }]);
    expect(got.laptop).toEqual([{ event: "greeting", data: { text: "hi" } }]);
    await quiet(200);
    expect(got.other).toEqual([]);
  });

  test("laravel-echo's signin() path signs in and receives events sent to its user", async () => {
    const running = await start();
    const sdk = sdkAt({ port: running.port });
    const echo = new Echo({
      broadcaster: "reverb",
      key: APP.key,
      Pusher,
      wsHost: "127.0.0.1",
      wsPort: running.port,
      forceTLS: false,
      enabledTransports: ["ws"],
      disableStats: true,
      userAuthentication: {
        endpoint: "/broadcasting/user-auth",
        headers: {},
        customHandler: ({ socketId }: { socketId: string }, callback: (error: Error | null, data: { auth: string; user_data: string } | null) => void) =>
          callback(null, sdk.authenticateUser(socketId, { id: "42" })),
      },
    });
    clients.track(echo);
    const pusher = echo.connector.pusher as Pusher;
    const signedIn = new Promise<void>((resolve) => pusher.connection.bind("message", (event: { event: string }) => event.event === "pusher:signin_success" && resolve()));
    echo.connector.signin();
    await within(signedIn, "Echo signin");
    const got = new Promise((resolve) => pusher.user.bind("order.shipped", resolve));
    await sdk.sendToUser("42", "order.shipped", { id: 7 });
    expect(await within(got, "the user event")).toEqual({ id: 7 });
  });

  test("raw frames: signin_success echoes user_data; only the own #server-to-user- channel may be subscribed", async () => {
    await start();
    const client = await clients.raw(server!.wsUrl());
    expect(await client.subscribe("#server-to-user-1")).toEqual(RESERVED);
    const userData = JSON.stringify({ id: "1", user_info: { n: 1 } });
    await rawSignIn(client, userData);
    const success = await client.next("pusher:signin_success");
    expect(client.raw.at(-1)).toBe(JSON.stringify({ event: "pusher:signin_success", data: JSON.stringify({ user_data: userData }) }));
    expect(success.data).toBe(JSON.stringify({ user_data: userData }));
    expect(await client.subscribe("#server-to-user-1")).toMatchObject({ event: "pusher_internal:subscription_succeeded", channel: "#server-to-user-1" });
    expect(await client.subscribe("#server-to-user-2")).toEqual(RESERVED);
    expect(await client.subscribe("#other")).toEqual(RESERVED);
    client.send({ event: "client-x", channel: "#server-to-user-1", data: {} });
    await client.waitFor(() => client.count("pusher:error") === 4, "client event to a # channel refused");
    expect(client.frames.at(-1)).toEqual(RESERVED);
    // Signing in again as the same user is answered again; the socket is still served.
    await rawSignIn(client, userData);
    await client.waitFor(() => client.count("pusher:signin_success") === 2, "second signin_success");
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  const refusals: Array<[string, (client: RawClient) => void, string]> = [
    ["a bad signature", (client) => void rawSignIn(client, '{"id":"1"}', `${APP.key}:${"0".repeat(64)}`), "Signin refused: the auth signature is invalid"],
    ["another app's key", (client) => void rawSignIn(client, '{"id":"1"}', `other:${signUser(APP.key, APP.secret, client.socketId, '{"id":"1"}').split(":")[1]}`), "Signin refused: the auth signature is invalid"],
    ["no user_data", (client) => client.send({ event: "pusher:signin", data: { auth: "x" } }), "Signin refused: the auth signature is invalid"],
    ["user_data without an id", (client) => void rawSignIn(client, '{"name":"x"}'), "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings"],
    ["an empty id", (client) => void rawSignIn(client, '{"id":""}'), "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings"],
    ["a numeric id", (client) => void rawSignIn(client, '{"id":1}'), "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings"],
    ["user_data that is not JSON", (client) => void rawSignIn(client, "nope"), "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings"],
    ["a watchlist of numbers", (client) => void rawSignIn(client, '{"id":"1","watchlist":[2]}'), "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings"],
  ];
  for (const [what, send, message] of refusals) {
    test(`${what}: pusher:error 4009 and close 4009; other sockets are unaffected`, async () => {
      const log = new RecordingLogger();
      await start({}, log);
      const bystander = await clients.raw(server!.wsUrl());
      await bystander.subscribe("news");
      const client = await clients.raw(server!.wsUrl());
      send(client);
      expect(await client.next("pusher:error")).toEqual(error(4009, message));
      expect((await within(client.closed, "close")).code).toBe(4009);
      expect(log.matching("WARN", "Signin refused")).toHaveLength(1);
      await triggerNews();
      await bystander.next("ok");
    });
  }

  test("signing in as another user on a signed-in socket: 4009 and close", async () => {
    await start();
    const client = await clients.raw(server!.wsUrl());
    await rawSignIn(client, '{"id":"1"}');
    await client.next("pusher:signin_success");
    await rawSignIn(client, '{"id":"2"}');
    expect(await client.next("pusher:error")).toEqual(error(4009, "Signin refused: this connection is signed in as another user"));
    expect((await within(client.closed, "close")).code).toBe(4009);
  });

  test("terminate_connections closes a signed-in user's sockets and no one else's", async () => {
    const running = await start();
    const target = { port: running.port };
    const mine = await clients.raw(server!.wsUrl());
    await rawSignIn(mine, '{"id":"u1"}');
    await mine.next("pusher:signin_success");
    const theirs = await clients.raw(server!.wsUrl());
    await rawSignIn(theirs, '{"id":"u2"}');
    await theirs.next("pusher:signin_success");
    await sdkAt(target).terminateUserConnections("u1");
    await within(mine.closed, "u1's socket to close");
    await quiet(200);
    expect(theirs.ws.readyState).toBe(WebSocket.OPEN);
  });
});

async function triggerNews(): Promise<void> {
  const response = await signedFetch(server!.url, "POST", `/apps/${APP.app_id}/events`, { name: "ok", channel: "news", data: "{}" }, APP);
  expect(response.status).toBe(200);
}

describe("the HTTP API and # channels", () => {
  test("events may go to #server-to-user-<id> but not to other # channels (422)", async () => {
    await start();
    const ok = await signedFetch(server!.url, "POST", `/apps/${APP.app_id}/events`, { name: "e", channel: "#server-to-user-9", data: "{}" }, APP);
    expect(ok.status).toBe(200);
    for (const body of [{ channel: "#secret" }, { channels: ["news", "#secret"] }, { channel: "#server-to-user-" }]) {
      const refused = await signedFetch(server!.url, "POST", `/apps/${APP.app_id}/events`, { name: "e", data: "{}", ...body }, APP);
      expect(refused.status).toBe(422);
      expect(JSON.stringify(await refused.json())).toContain("reserved # channel");
    }
    const batch = await signedFetch(server!.url, "POST", `/apps/${APP.app_id}/batch_events`, { batch: [{ name: "e", channel: "#x", data: "{}" }] }, APP);
    expect(batch.status).toBe(422);
  });

  test("GET /channels lists #server-to-user- channels only when filter_by_prefix asks for them", async () => {
    await start();
    const client = await clients.raw(server!.wsUrl());
    await client.subscribe("news");
    await rawSignIn(client, '{"id":"7"}');
    await client.next("pusher:signin_success");
    const list = async (params: Record<string, string>) =>
      Object.keys(((await (await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels`, undefined, { ...APP, params })).json()) as { channels: object }).channels);
    expect(await list({})).toEqual(["news"]);
    expect(await list({ filter_by_prefix: "#server-to-user-" })).toEqual(["#server-to-user-7"]);
    const one = await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels/${encodeURIComponent("#server-to-user-7")}`, undefined, { ...APP, params: { info: "subscription_count" } });
    expect(await one.json()).toEqual({ occupied: true, subscription_count: 1 });
  });
});

describe("watchlist on one node", () => {
  test("pusher-js gets the online ids at signin, then online and offline as the watched user comes and goes (last socket)", async () => {
    const running = await start();
    const target = { port: running.port };
    await signIn(target, { id: "already" }, track);
    const watcher = await userPusherWatching(target, { id: "w", watchlist: ["already", "later", "never"] });
    await until(() => watcher.events.length === 1, "initial online");
    expect(watcher.events).toEqual([{ name: "online", user_ids: ["already"] }]);

    const rawWatcher = await clients.raw(server!.wsUrl());
    await rawSignIn(rawWatcher, JSON.stringify({ id: "w2", watchlist: ["later", "later"] }));
    await rawWatcher.next("pusher:signin_success");
    const first = await signIn(target, { id: "later" }, track);
    const second = await signIn(target, { id: "later" }, track);
    await until(() => watcher.events.length === 2, "online of later");
    await rawWatcher.next("pusher_internal:watchlist_events");
    expect(watcher.events[1]).toEqual({ name: "online", user_ids: ["later"] });
    first.disconnect();
    await quiet(300);
    expect(watcher.events).toHaveLength(2);
    second.disconnect();
    await until(() => watcher.events.length === 3, "offline of later");
    expect(watcher.events[2]).toEqual({ name: "offline", user_ids: ["later"] });
    await rawWatcher.waitFor(() => rawWatcher.count("pusher_internal:watchlist_events") === 2, "the second watcher's offline");
    expect(rawWatcher.frames.filter((frame) => frame.event === "pusher_internal:watchlist_events").map((frame) => JSON.parse(frame.data as string))).toEqual([
      { events: [{ name: "online", user_ids: ["later"] }] },
      { events: [{ name: "offline", user_ids: ["later"] }] },
    ]);
  });

  test("more than 100 ids: the first 100 are watched, pusher:error 4302, signin still succeeds", async () => {
    const log = new RecordingLogger();
    await start({}, log);
    const client = await clients.raw(server!.wsUrl());
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);
    await rawSignIn(client, JSON.stringify({ id: "w", watchlist: ids }));
    await client.next("pusher:signin_success");
    expect(await client.next("pusher:error")).toEqual(error(4302, "Watchlist limit exceeded: only the first 100 user ids are watched"));
    expect(log.matching("WARN", "only the first 100 are watched")).toHaveLength(1);
    for (const id of ["u99", "u100"]) {
      const watched = await clients.raw(server!.wsUrl());
      await rawSignIn(watched, JSON.stringify({ id }));
      await watched.next("pusher:signin_success");
    }
    await client.next("pusher_internal:watchlist_events");
    await quiet(200);
    expect(client.frames.filter((frame) => frame.event === "pusher_internal:watchlist_events").map((frame) => frame.data)).toEqual([
      JSON.stringify({ events: [{ name: "online", user_ids: ["u99"] }] }),
    ]);
  });
});

/** A signed-in pusher-js client recording what `user.watchlist` emits. */
async function userPusherWatching(target: { port: number }, user: SignedInUser): Promise<{ client: Pusher; events: unknown[] }> {
  const events: unknown[] = [];
  const client = await signInBound(target, user, (c) => {
    c.user.watchlist.bind("online", (event: unknown) => events.push(event));
    c.user.watchlist.bind("offline", (event: unknown) => events.push(event));
  });
  return { client, events };
}

async function signInBound(target: { port: number }, user: SignedInUser, bind: (client: Pusher) => void): Promise<Pusher> {
  return signIn(target, user, (client) => {
    track(client);
    bind(client);
  });
}

describe("client events with plain string data", () => {
  test("pusher-js's channel.trigger('client-x', 'hi') is relayed as Pusher relays it", async () => {
    await start({ accept_client_events_from: "all" });
    const sender = await clients.pusher(server!);
    const receiver = await clients.pusher(server!);
    for (const client of [sender, receiver]) {
      const channel = client.subscribe("private-chat");
      await within(new Promise((resolve) => channel.bind("pusher:subscription_succeeded", resolve)), "subscribed");
    }
    const got = new Promise((resolve) => receiver.channel("private-chat").bind("client-x", resolve));
    sender.channel("private-chat").trigger("client-x", "hi");
    expect(await within(got, "the client event")).toBe("hi");
  });
});

describe("authorized connections (user_authentication_timeout)", () => {
  test("a socket that neither signs in nor joins a private or presence channel in time gets 4009 and is closed; the others stay", async () => {
    const log = new RecordingLogger();
    await start({ user_authentication_timeout: 1 }, log);
    const opened = Date.now();
    const idle = await clients.raw(server!.wsUrl());
    await idle.subscribe("news");
    const signedIn = await clients.raw(server!.wsUrl());
    await rawSignIn(signedIn, '{"id":"1"}');
    await signedIn.next("pusher:signin_success");
    const privateMember = await clients.raw(server!.wsUrl());
    await privateMember.subscribe("private-a", { auth: signChannel(APP.key, APP.secret, privateMember.socketId, "private-a") });
    // A refused private subscription does not count.
    const badAuth = await clients.raw(server!.wsUrl());
    await badAuth.subscribe("private-a", { auth: `${APP.key}:${"0".repeat(64)}` });

    for (const client of [idle, badAuth]) {
      expect(await client.next("pusher:error", client.frames.findIndex((frame) => frame.event === "pusher_internal:subscription_succeeded" || frame.event === "pusher:error") + 1, 3000)).toEqual(error(4009, "Connection not authorized within timeout"));
      expect((await within(client.closed, "close")).code).toBe(4009);
    }
    expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
    expect(log.matching("WARN", "user_authentication_timeout")).toHaveLength(2);
    await quiet(300);
    for (const client of [signedIn, privateMember]) expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("off by default: an idle socket stays open", async () => {
    await start();
    const idle = await clients.raw(server!.wsUrl());
    await quiet(1200);
    expect(idle.ws.readyState).toBe(WebSocket.OPEN);
  });
});
