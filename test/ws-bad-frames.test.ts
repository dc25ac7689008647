import { afterEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients, triggerEvent } from "./helpers/clients.ts";
import type { RawClient } from "./helpers/raw-client.ts";
import { signedFetch } from "./helpers/signing.ts";
import { APP, TEST_TRANSPORT, startTestServer, type TestServer } from "./helpers/server.ts";
import { until, within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

const stderrWrite = process.stderr.write;

afterEach(async () => {
  process.stderr.write = stderrWrite;
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

type Answer = "4200" | "4009" | "pong" | "none";

/** Bad or odd frames, each with the one answer it must get (the flooder is subscribed to nothing). */
const BAD_FRAMES: Array<[string | Uint8Array, Answer]> = [
  ["Hi", "4200"],
  ["", "4200"],
  ["{", "4200"],
  ["\u0000\u0001\u0002", "4200"],
  ["\ud800 lone surrogate", "4200"],
  ["123", "4200"],
  ["[]", "4200"],
  ["null", "4200"],
  ['{"event":null}', "4200"],
  ['{"event":{}}', "4200"],
  ['{"event":["pusher:ping"]}', "4200"],
  ["[".repeat(4000) + "]".repeat(4000), "4200"],
  [`{"event":"pusher:ping","data":${'{"a":'.repeat(1500)}1${"}".repeat(1500)}}`, "pong"],
  ['{"__proto__":{"polluted":true},"event":"pusher:ping","data":{"constructor":{"prototype":{"polluted":true}}}}', "pong"],
  [`{"event":"pusher:ping","data":"${"x".repeat(200)}"}`, "pong"],
  ['{"event":"pusher:subscribe","data":"{not json"}', "4200"],
  ['{"event":"pusher:subscribe","data":{"channel":123}}', "4200"],
  ['{"event":"pusher:subscribe","data":{"channel":"presence-x","auth":"x","channel_data":"{"}}', "4200"],
  ['{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"garbage"}}', "4009"],
  ['{"event":"pusher:unsubscribe","data":{"channel":"news"}}', "none"],
  ['{"event":"pusher:unknown"}', "4200"],
  ['{"event":"client-x","channel":"news","data":"scalar"}', "4009"],
  ['{"event":"client-x","channel":"news","data":{"spoof":true}}', "4009"],
  ['{"event":"pusher_internal:subscription_succeeded","channel":"news","data":{}}', "none"],
  ['{"event":"pusher_internal:member_added","channel":"news","data":{"user_id":1}}', "none"],
  [`{"event":"x","channel":"news","data":{},"pad":"${"y".repeat(9000)}"}`, "none"],
  ["z".repeat(9_900), "4200"],
  [new Uint8Array([0xff, 0xfe, 0xfd, 0x00, 0xc3]), "4200"],
  [new TextEncoder().encode('{"event":"pusher:ping"}'), "pong"],
  [new Uint8Array(5000).fill(0x7b), "4200"],
];

function expectedAnswers(rounds: number): Record<Answer, number> {
  const counts: Record<Answer, number> = { "4200": 0, "4009": 0, pong: 0, none: 0 };
  for (const [, answer] of BAD_FRAMES) counts[answer] += rounds;
  return counts;
}

/** Lines the server writes to stderr (warnings and handler failures) while capturing. */
function captureErrorLog() {
  const lines: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  return {
    stop() {
      process.stderr.write = stderrWrite;
      return lines;
    },
  };
}

function errorCount(client: RawClient, code: number): number {
  return client.frames.filter((frame) => frame.event === "pusher:error" && JSON.parse(frame.data as string).code === code).length;
}

describe("bad frames", () => {
  test("a bounded flood of bad frames gets one answer per frame and never disturbs another socket", async () => {
    server = await startTestServer();
    const victim = await clients.raw(server.wsUrl());
    await victim.subscribe("news");
    const flooder = await clients.raw(server.wsUrl());
    const logged = captureErrorLog();

    const rounds = 200;
    const events = 40;
    for (let round = 0; round < rounds; round++) {
      for (const [frame] of BAD_FRAMES) flooder.ws.send(frame);
      if (round % (rounds / events) === 0) {
        await triggerEvent(server, { name: "tick", data: JSON.stringify({ n: round / (rounds / events) }), channel: "news" });
      }
    }
    flooder.send({ event: "pusher:ping" });

    const expected = expectedAnswers(rounds);
    await flooder.waitFor(() => flooder.count("pusher:pong") === expected.pong + 1, "the flooder's last pong", 10_000);
    expect(errorCount(flooder, 4200)).toBe(expected["4200"]);
    expect(errorCount(flooder, 4009)).toBe(expected["4009"]);
    expect(flooder.frames).toHaveLength(1 + expected["4200"] + expected["4009"] + expected.pong + 1);
    expect(flooder.ws.readyState).toBe(WebSocket.OPEN);

    await victim.waitFor(() => victim.count("tick") === events, "every tick", 5000);
    expect(victim.frames.slice(2)).toEqual(
      Array.from({ length: events }, (_, n) => ({ event: "tick", data: JSON.stringify({ n }), channel: "news" })),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(logged.stop().filter((line) => line.includes("ERROR"))).toEqual([]);
  });

  test("oversized frames close only their own socket", async () => {
    server = await startTestServer();
    const victim = await clients.raw(server.wsUrl());
    await victim.subscribe("news");

    const senders = await Promise.all(Array.from({ length: 6 }, () => clients.raw(server!.wsUrl())));
    senders[0]!.send("x".repeat(10_001));
    senders[1]!.send("€".repeat(3_400));
    senders[2]!.ws.send(new Uint8Array(10_001));
    senders[3]!.send("y".repeat(1_000_000));
    senders[4]!.send(JSON.stringify({ event: "client-x", channel: "news", data: { pad: "z".repeat(20_000) } }));
    senders[5]!.send({ event: "pusher:subscribe", data: { channel: "news", channel_data: JSON.stringify({ pad: "p".repeat(10_100) }) } });
    const codes = await Promise.all(senders.map((sender) => within(sender.closed, "the oversized sender to be closed")));
    // A frame far past every app's limit is cut by uWS itself before it is buffered: Bun's uWS
    // closes with 1009, uWebSockets.js drops the connection without a close frame (1006).
    const cutByUws = TEST_TRANSPORT === "uws" ? 1006 : 1009;
    expect(codes.map(({ code }) => code)).toEqual([1009, 1009, 1009, cutByUws, 1009, 1009]);

    await triggerEvent(server, { name: "after", data: "{}", channel: "news" });
    expect(await victim.next("after")).toEqual({ event: "after", data: "{}", channel: "news" });
    expect(victim.ws.readyState).toBe(WebSocket.OPEN);
    expect(victim.count("pusher:error")).toBe(0);
  });

  test("sockets dropped mid-stream are cleaned up and the server keeps serving", async () => {
    server = await startTestServer();
    const watcher = await clients.raw(server.wsUrl());
    const channelData = '{"user_id":"watcher"}';
    await watcher.subscribe("presence-room", { auth: signChannel(APP.key, APP.secret, watcher.socketId, "presence-room", channelData), channel_data: channelData });

    const dropped = await Promise.all(Array.from({ length: 10 }, () => clients.raw(server!.wsUrl())));
    for (const [i, client] of dropped.entries()) {
      const data = JSON.stringify({ user_id: i });
      client.send({ event: "pusher:subscribe", data: { channel: "presence-room", auth: signChannel(APP.key, APP.secret, client.socketId, "presence-room", data), channel_data: data } });
      client.send("half a frame {");
      client.ws.terminate();
    }
    await within(Promise.all(dropped.map((client) => client.closed)), "the dropped sockets to close");
    const users = async () =>
      (await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels/presence-room/users`, undefined, { key: APP.key, secret: APP.secret })).json();
    await until(async () => JSON.stringify(await users()) === '{"users":[{"id":"watcher"}]}', "only the watcher to be left");
    await watcher.waitFor(
      () => watcher.count("pusher_internal:member_removed") === watcher.count("pusher_internal:member_added"),
      "a member_removed for every member_added",
    );

    const fresh = await clients.raw(server.wsUrl());
    const frame = await fresh.subscribe("presence-room", {
      auth: signChannel(APP.key, APP.secret, fresh.socketId, "presence-room", '{"user_id":"fresh"}'),
      channel_data: '{"user_id":"fresh"}',
    });
    expect(JSON.parse(frame.data as string).presence.ids).toEqual(["watcher", "fresh"]);
  });

  test("after all of it, pusher-js still connects and /up answers", async () => {
    server = await startTestServer();
    const flooder = await clients.raw(server.wsUrl());
    for (let round = 0; round < 20; round++) for (const [frame] of BAD_FRAMES) flooder.ws.send(frame);
    flooder.send("x".repeat(20_000));
    await within(flooder.closed, "the flooder to be closed");

    const pusher = await clients.pusher(server);
    const channel = pusher.subscribe("news");
    await until(() => channel.subscribed, "pusher-js to subscribe");
    const health = await fetch(`${server.url}/up`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ health: "OK" });
  });
});
