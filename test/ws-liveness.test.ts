import { describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients } from "./helpers/clients.ts";
import { quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until, within } from "./helpers/waits.ts";

// ping_interval 1: a silent client is pinged about 1 s after its last frame and closed about 1 s
// after an unanswered ping. Each test runs on its own server, concurrently, to keep the file short.

const PONG_TIMEOUT = { event: "pusher:error", data: '{"code":4201,"message":"Pong reply not received in time"}' };

/** Concurrent tests cannot share an afterEach, so each one owns its server and clients. */
function live(body: (server: TestServer, clients: Clients) => Promise<void>): () => Promise<void> {
  return async () => {
    const server = await startTestServer({ apps: [{ ...APP, ping_interval: 1 }] });
    const clients = new Clients();
    try {
      await body(server, clients);
    } finally {
      clients.disconnectAll();
      await server.stop();
    }
  };
}

describe("liveness with ping_interval 1", () => {
  test.concurrent("a silent client gets {\"event\":\"pusher:ping\"}, then 4201 and close code 4201", live(async (server, clients) => {
    const client = await clients.raw(server.wsUrl());
    const start = Date.now();

    const ping = await client.next("pusher:ping", 0, 3000);
    const pingedAfter = Date.now() - start;
    expect(ping).toEqual({ event: "pusher:ping" });
    expect(client.raw[1]).toBe('{"event":"pusher:ping"}');
    expect(pingedAfter).toBeGreaterThanOrEqual(700);

    const closed = await within(client.closed, "the 4201 close", 3000);
    expect(closed).toEqual({ code: 4201, reason: "Pong reply not received in time" });
    expect(Date.now() - start - pingedAfter).toBeGreaterThanOrEqual(500);
    expect(client.frames.slice(1)).toEqual([{ event: "pusher:ping" }, PONG_TIMEOUT]);
  }), 15_000);

  test.concurrent("answering each pusher:ping with pusher:pong keeps the connection open", live(async (server, clients) => {
    const client = await clients.raw(server.wsUrl());
    client.ws.addEventListener("message", (event) => {
      if (String(event.data) === '{"event":"pusher:ping"}') client.send({ event: "pusher:pong", data: {} });
    });
    await client.waitFor(() => client.count("pusher:ping") >= 2, "two pings", 5000);
    await quiet(1200);
    expect(client.count("pusher:error")).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  }), 15_000);

  test.concurrent("any frame counts as activity: a client that keeps talking is never pinged", live(async (server, clients) => {
    const client = await clients.raw(server.wsUrl());
    const chatter = setInterval(() => client.send({ event: "client-noise", channel: "nowhere", data: {} }), 300);
    try {
      await quiet(2600);
    } finally {
      clearInterval(chatter);
    }
    expect(client.count("pusher:ping")).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  }), 15_000);

  test.concurrent("pusher-js answers the pings itself and stays connected", live(async (server, clients) => {
    const pusher = await clients.pusher(server);
    const states: string[] = [];
    pusher.connection.bind("state_change", ({ current }: { current: string }) => states.push(current));
    let pings = 0;
    pusher.connection.bind("message", ({ event }: { event: string }) => event === "pusher:ping" && pings++);
    const socketId = pusher.connection.socket_id;
    await until(() => pings >= 2, "two pings", 5000);
    await quiet(1200);
    expect(states).toEqual([]);
    expect(pusher.connection.state).toBe("connected");
    expect(pusher.connection.socket_id).toBe(socketId);
  }), 15_000);

  test.concurrent("a client that speaks WS ping frames is pinged with a WS ping, not pusher:ping, and survives", live(async (server, clients) => {
    const client = await clients.raw(server.wsUrl());
    let serverPings = 0;
    client.ws.addEventListener("ping", () => serverPings++);
    client.ws.ping();
    // Bun's client answers WS pings with pongs by itself; without that answer the socket would be
    // closed with 4201 within this wait.
    await until(() => serverPings >= 2, "two WS pings from the server", 5000);
    await quiet(1200);
    expect(client.count("pusher:ping")).toBe(0);
    expect(client.count("pusher:error")).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  }), 15_000);

  test.concurrent("a pruned presence member is removed for the others", live(async (server, clients) => {
    const watcher = await clients.raw(server.wsUrl());
    watcher.ws.addEventListener("message", (event) => {
      if (String(event.data) === '{"event":"pusher:ping"}') watcher.send({ event: "pusher:pong" });
    });
    const join = async (client: typeof watcher, userId: number) => {
      const channelData = JSON.stringify({ user_id: userId });
      await client.subscribe("presence-room", {
        auth: signChannel(APP.key, APP.secret, client.socketId, "presence-room", channelData),
        channel_data: channelData,
      });
    };
    await join(watcher, 1);
    const silent = await clients.raw(server.wsUrl());
    await join(silent, 2);

    const removed = await watcher.next("pusher_internal:member_removed", 0, 4000);
    expect(removed).toEqual({ event: "pusher_internal:member_removed", data: '{"user_id":2}', channel: "presence-room" });
    expect((await within(silent.closed, "the pruned socket to close")).code).toBe(4201);
    expect(watcher.ws.readyState).toBe(WebSocket.OPEN);
  }), 15_000);
});
