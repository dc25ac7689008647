import { afterEach, describe, expect, test } from "bun:test";
import Pusher from "pusher-js";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients, pusherOptions } from "./helpers/clients.ts";
import { quiet, type RawClient } from "./helpers/raw-client.ts";
import { signedFetch } from "./helpers/signing.ts";
import { APP, TEST_WORKERS, startTestServer, type TestServer } from "./helpers/server.ts";
import { within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

function error(code: number, message: string) {
  return { event: "pusher:error", data: JSON.stringify({ code, message }) };
}

const UNKNOWN_APP = error(4001, "Application does not exist");
const OVER_QUOTA = error(4004, "Application is over connection quota");
const ORIGIN = error(4009, "Origin not allowed");
const UNAUTHORIZED = error(4009, "Connection is unauthorized");
const INVALID = error(4200, "Invalid message format");
const RATE_LIMITED = error(4301, "Rate limit exceeded");

/** Bounded wait for the close event. */
function closed(client: RawClient) {
  return within(client.closed, "the socket to close");
}

/** The connection still works: a ping is answered. */
async function stillServed(client: RawClient) {
  const pongs = client.count("pusher:pong");
  client.send({ event: "pusher:ping" });
  await client.waitFor(() => client.count("pusher:pong") > pongs, "pong");
}

describe("4001 unknown app", () => {
  test("the error frame, then close code 4001, and no connection_established", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl("no-such-key"));
    expect(await closed(client)).toEqual({ code: 4001, reason: "Application does not exist" });
    expect(client.frames).toEqual([UNKNOWN_APP]);
  });

  test("pusher-js is refused and does not reconnect", async () => {
    server = await startTestServer();
    const pusher = new Pusher("no-such-key", pusherOptions(server));
    clients.track(pusher);
    const errors: unknown[] = [];
    pusher.connection.bind("error", (event: unknown) => errors.push(event));
    const states: string[] = [];
    pusher.connection.bind("state_change", ({ current }: { current: string }) => states.push(current));
    await within(
      new Promise<void>((resolve) => pusher.connection.bind("disconnected", () => resolve())),
      "pusher-js to give up",
    );
    await quiet(300);
    expect(errors).toEqual([
      { type: "WebSocketError", error: { type: "PusherError", data: { code: 4001, message: "Application does not exist" } } },
    ]);
    expect(states).not.toContain("connected");
    expect(pusher.connection.state).toBe("disconnected");
  });
});

describe("4004 over quota", () => {
  // Across workers the count comes with heartbeats, so a second connection right after the first
  // may still be let in: test/workers.test.ts shows the box-wide limit once counts have spread.
  test.skipIf(TEST_WORKERS > 1)("max_connections reached: the error frame, then close code 4004", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_connections: 1 }] });
    const first = await clients.raw(server.wsUrl());
    await first.subscribe("test-channel");

    const second = await clients.raw(server.wsUrl());
    expect(await closed(second)).toEqual({ code: 4004, reason: "Application is over connection quota" });
    expect(second.frames).toEqual([OVER_QUOTA]);
    await stillServed(first);
  });

  test("a slot frees up when a connection leaves", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_connections: 1 }] });
    const first = await clients.raw(server.wsUrl());
    await first.subscribe("test-channel");
    first.close();
    await closed(first);

    const next = await clients.raw(server.wsUrl());
    expect(next.frames[0]!.event).toBe("pusher:connection_established");
  });
});

describe("4009 origin not allowed", () => {
  const cases: Array<[string[], string | null, boolean]> = [
    [["laravel.com"], "http://laravel.com", true],
    [["laravel.com"], "https://laravel.com:8443", true],
    [["laravel.com"], "http://localhost", false],
    [["laravel.com"], "http://sub.laravel.com", false],
    [["laravel.com"], null, false],
    [["*.laravel.com"], "http://sub.laravel.com", true],
    [["*.laravel.com"], "http://a.b.laravel.com", true],
    [["*.laravel.com"], "http://laravel.com", false],
    [["*.laravel.com"], "http://evil-laravel.com", false],
    [["localhost", "*.localhost"], "http://sub.localhost", true],
    [["*"], null, true],
  ];

  test.each(cases)("allowed_origins %j, Origin %p → allowed %p", async (allowed, origin, ok) => {
    server = await startTestServer({ apps: [{ ...APP, allowed_origins: allowed }] });
    const client = await clients.raw(server.wsUrl(), origin === null ? undefined : { Origin: origin });
    if (ok) {
      expect(client.frames[0]!.event).toBe("pusher:connection_established");
      await stillServed(client);
    } else {
      expect(await closed(client)).toEqual({ code: 4009, reason: "Origin not allowed" });
      expect(client.frames).toEqual([ORIGIN]);
    }
  });
});

describe("4009 unauthorized subscription", () => {
  const channels = [
    "private-test-channel",
    "presence-test-channel",
    "private-cache-test-channel",
    "presence-cache-test-channel",
    "private-encrypted-test-channel",
    "private-encrypted-cache-test-channel",
  ];

  async function occupiedChannels(): Promise<unknown> {
    const response = await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels`, undefined, { key: APP.key, secret: APP.secret });
    return response.json();
  }

  test.each(channels)("%s: a wrong signature, no auth, and null auth are refused; no channel is created", async (channel) => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const channelData = channel.startsWith("presence") ? '{"user_id":1}' : undefined;
    const extra = channelData === undefined ? {} : { channel_data: channelData };

    expect(await client.subscribe(channel, { auth: signChannel(APP.key, "wrong-secret", client.socketId, channel, channelData ?? null), ...extra })).toEqual(UNAUTHORIZED);
    expect(await client.subscribe(channel, { ...extra })).toEqual(UNAUTHORIZED);
    expect(await client.subscribe(channel, { auth: null, ...extra })).toEqual(UNAUTHORIZED);
    expect(await occupiedChannels()).toEqual({ channels: {} });
    await stillServed(client);
  });

  test("a signature for another socket or another channel is refused", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const other = await clients.raw(server.wsUrl());
    expect(await client.subscribe("private-a", { auth: signChannel(APP.key, APP.secret, other.socketId, "private-a") })).toEqual(UNAUTHORIZED);
    expect(await client.subscribe("private-a", { auth: signChannel(APP.key, APP.secret, client.socketId, "private-b") })).toEqual(UNAUTHORIZED);
  });

  test("presence channel_data is covered by the signature", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const auth = signChannel(APP.key, APP.secret, client.socketId, "presence-room", '{"user_id":1}');
    expect(await client.subscribe("presence-room", { auth, channel_data: '{"user_id":2}' })).toEqual(UNAUTHORIZED);
    expect((await client.subscribe("presence-room", { auth, channel_data: '{"user_id":1}' })).event).toBe("pusher_internal:subscription_succeeded");
  });

  test("the refused client receives none of the channel's events", async () => {
    server = await startTestServer();
    const member = await clients.raw(server.wsUrl());
    await member.subscribe("private-room", { auth: signChannel(APP.key, APP.secret, member.socketId, "private-room") });
    const intruder = await clients.raw(server.wsUrl());
    expect(await intruder.subscribe("private-room", { auth: "reverb-key:bad" })).toEqual(UNAUTHORIZED);
    member.send({ event: "client-hello", channel: "private-room", data: {} });
    await quiet(100);
    expect(intruder.count("client-hello")).toBe(0);
  });
});

describe("4200 invalid message format", () => {
  const cases: Array<[string, string]> = [
    ["non-JSON text", "Hi"],
    ["a JSON array", "[1,2]"],
    ["a JSON string", '"pusher:ping"'],
    ["JSON null", "null"],
    ["no event", '{"data":{}}'],
    ["event not a string (array)", '{"event":["pusher:ping"]}'],
    ["event not a string (number)", '{"event":42}'],
    ["subscribe without data", '{"event":"pusher:subscribe"}'],
    ["subscribe data a non-JSON string", '{"event":"pusher:subscribe","data":"Hello"}'],
    ["subscribe without channel", '{"event":"pusher:subscribe","data":{}}'],
    ["subscribe channel null", '{"event":"pusher:subscribe","data":{"channel":null}}'],
    ["subscribe channel an array", '{"event":"pusher:subscribe","data":{"channel":["a"]}}'],
    ["subscribe auth an array", '{"event":"pusher:subscribe","data":{"channel":"private-a","auth":["x"]}}'],
    ["subscribe channel_data an array", '{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"x","channel_data":["x"]}}'],
    ["subscribe channel_data an object", '{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"x","channel_data":{"user_id":1}}}'],
    ["subscribe channel_data non-JSON", '{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"x","channel_data":"Hello"}}'],
    ["unsubscribe without channel", '{"event":"pusher:unsubscribe","data":{}}'],
    ["unknown pusher: event", '{"event":"pusher:foo","data":{}}'],
    ["client event with array channel", '{"event":"client-x","channel":["a"],"data":{}}'],
    ["client event without channel", '{"event":"client-x","data":{}}'],
    ["client event with numeric data", '{"event":"client-x","channel":"a","data":123}'],
    ["other event without channel", '{"event":"something","data":{}}'],
  ];

  test.each(cases)("%s", async (_name, text) => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send(text);
    expect(await client.next("pusher:error")).toEqual(INVALID);
    await stillServed(client);
    expect(client.count("pusher:error")).toBe(1);
  });

  test("a failed subscribe subscribes nothing", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send('{"event":"pusher:subscribe","data":{"channel":"cache-a","channel_data":"Hello"}}');
    await client.next("pusher:error");
    await quiet(50);
    expect(client.count("pusher_internal:subscription_succeeded")).toBe(0);
    expect(client.count("pusher:cache_miss")).toBe(0);
  });
});

describe("4301 rate limit", () => {
  test("the message over max_attempts is refused, the socket stays open, the next window is served", async () => {
    server = await startTestServer({ apps: [{ ...APP, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1 } }] });
    const client = await clients.raw(server.wsUrl());
    for (let i = 0; i < 4; i++) client.send({ event: "pusher:ping" });
    await client.next("pusher:error");
    await quiet(50);
    expect(client.frames.slice(1)).toEqual([{ event: "pusher:pong" }, { event: "pusher:pong" }, { event: "pusher:pong" }, RATE_LIMITED]);

    await quiet(1000);
    await stillServed(client);
  });

  test("every kind of message counts, and refused ones are not processed", async () => {
    server = await startTestServer({ apps: [{ ...APP, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1 } }] });
    const client = await clients.raw(server.wsUrl());
    client.send("not json");
    client.send({ event: "pusher:subscribe", data: { channel: "a" } });
    client.send({ event: "pusher:subscribe", data: { channel: "b" } });
    client.send({ event: "pusher:subscribe", data: { channel: "c" } });
    await client.waitFor(() => client.frames.length === 5, "four answers");
    await quiet(50);
    expect(client.frames.slice(1)).toEqual([
      INVALID,
      { event: "pusher_internal:subscription_succeeded", data: "{}", channel: "a" },
      { event: "pusher_internal:subscription_succeeded", data: "{}", channel: "b" },
      RATE_LIMITED,
    ]);
  });

  test("WS ping frames do not count", async () => {
    server = await startTestServer({ apps: [{ ...APP, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1 } }] });
    const client = await clients.raw(server.wsUrl());
    for (let i = 0; i < 10; i++) client.ws.ping();
    await stillServed(client);
    await stillServed(client);
    await stillServed(client);
    expect(client.count("pusher:error")).toBe(0);
  });

  test("with terminate_on_limit the socket is closed with 4301", async () => {
    server = await startTestServer({ apps: [{ ...APP, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1, terminate_on_limit: true } }] });
    const client = await clients.raw(server.wsUrl());
    for (let i = 0; i < 4; i++) client.send({ event: "pusher:ping" });
    expect(await closed(client)).toEqual({ code: 4301, reason: "Rate limit exceeded" });
    expect(client.count("pusher:pong")).toBe(3);
  });

  test("the limit is per connection", async () => {
    server = await startTestServer({ apps: [{ ...APP, rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 1 } }] });
    const noisy = await clients.raw(server.wsUrl());
    const calm = await clients.raw(server.wsUrl());
    for (let i = 0; i < 5; i++) noisy.send({ event: "pusher:ping" });
    await noisy.next("pusher:error");
    await stillServed(calm);
    expect(calm.count("pusher:error")).toBe(0);
  });
});

describe("1009 message too big", () => {
  /** A pusher:ping padded to exactly `bytes` UTF-8 bytes with `filler`. */
  function pingOfBytes(bytes: number, filler: string): string {
    const empty = '{"event":"pusher:ping","data":{"pad":""}}';
    const fillerBytes = Buffer.byteLength(filler);
    const room = bytes - empty.length;
    const text = `{"event":"pusher:ping","data":{"pad":"${filler.repeat(Math.floor(room / fillerBytes))}${"x".repeat(room % fillerBytes)}"}}`;
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  }

  // With one app, the transport enforces the limit itself; with a larger limit on another app, the
  // core has to. Both must count UTF-8 bytes, not characters.
  const setups: Array<[string, () => Promise<TestServer>]> = [
    ["the only app", () => startTestServer({ apps: [{ ...APP, max_message_size: 100 }] })],
    ["an app next to a bigger one", () =>
      startTestServer({ apps: [{ ...APP, max_message_size: 100 }, { app_id: "2", key: "big", secret: "s", max_message_size: 0 }] })],
  ];

  describe.each(setups)("limit 100 bytes on %s", (_name, start) => {
    test("exactly 100 bytes is served", async () => {
      server = await start();
      const client = await clients.raw(server.wsUrl());
      client.send(pingOfBytes(100, "x"));
      await client.next("pusher:pong");
      client.send(pingOfBytes(100, "é"));
      await client.waitFor(() => client.count("pusher:pong") === 2, "second pong");
    });

    test("101 bytes closes with 1009", async () => {
      server = await start();
      const client = await clients.raw(server.wsUrl());
      client.send(pingOfBytes(101, "x"));
      expect((await closed(client)).code).toBe(1009);
      expect(client.count("pusher:pong")).toBe(0);
    });

    test("multi-byte UTF-8: fewer than 100 characters but more than 100 bytes closes with 1009", async () => {
      server = await start();
      const client = await clients.raw(server.wsUrl());
      const text = pingOfBytes(102, "€");
      expect(text.length).toBeLessThan(100);
      client.send(text);
      expect(await closed(client)).toEqual({ code: 1009, reason: "Maximum message size exceeded" });
    });

    test("a binary frame over the limit closes with 1009", async () => {
      server = await start();
      const client = await clients.raw(server.wsUrl());
      client.ws.send(new Uint8Array(101));
      expect((await closed(client)).code).toBe(1009);
    });
  });

  test("the core's close carries Reverb's reason", async () => {
    server = await setups[1]![1]();
    const client = await clients.raw(server.wsUrl());
    client.send("x".repeat(101));
    expect(await closed(client)).toEqual({ code: 1009, reason: "Maximum message size exceeded" });
  });

  test("the default limit is 10,000 bytes: a 10,100-character channel_data closes the socket", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send({ event: "pusher:subscribe", data: { channel: "presence-a", auth: "x", channel_data: JSON.stringify({ user_id: 1, pad: "x".repeat(10_100) }) } });
    expect((await closed(client)).code).toBe(1009);
  });

  test("max_message_size 0 means no limit of our own", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_message_size: 0 }] });
    const client = await clients.raw(server.wsUrl());
    client.send(pingOfBytes(200_000, "x"));
    await client.next("pusher:pong");
  });

  test("a large limit lets a 20,000-character channel_data through", async () => {
    server = await startTestServer({ apps: [{ ...APP, max_message_size: 1_000_000 }] });
    const client = await clients.raw(server.wsUrl());
    const frame = await client.subscribe("test-channel", { channel_data: JSON.stringify({ pad: "x".repeat(20_000) }) });
    expect(frame.event).toBe("pusher_internal:subscription_succeeded");
  });
});
