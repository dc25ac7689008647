import { afterEach, describe, expect, test } from "bun:test";
import { Clients, triggerEvent } from "./helpers/clients.ts";
import { quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/waits.ts";

const SOCKET_ID = /^\d+\.\d+$/;

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

describe("connecting", () => {
  test("pusher-js connects and gets a socket id", async () => {
    server = await startTestServer();
    const pusher = await clients.pusher(server);
    expect(pusher.connection.state).toBe("connected");
    expect(pusher.connection.socket_id).toMatch(SOCKET_ID);
  });

  test("laravel-echo (broadcaster reverb) connects and reports its socket id", async () => {
    server = await startTestServer();
    const echo = await clients.echo(server);
    expect(echo.connectionStatus()).toBe("connected");
    expect(echo.socketId()).toMatch(SOCKET_ID);
  });

  test("connection_established carries the socket id and the app's activity_timeout", async () => {
    server = await startTestServer({ apps: [{ ...APP, activity_timeout: 45 }] });
    const client = await clients.raw(server.wsUrl());
    expect(client.frames).toHaveLength(1);
    const frame = client.frames[0]!;
    expect(Object.keys(frame)).toEqual(["event", "data"]);
    expect(frame.event).toBe("pusher:connection_established");
    const data = JSON.parse(frame.data as string);
    expect(Object.keys(data)).toEqual(["socket_id", "activity_timeout"]);
    expect(data.socket_id).toMatch(SOCKET_ID);
    expect(data.activity_timeout).toBe(45);
  });

  test("every connection gets its own socket id", async () => {
    server = await startTestServer();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await clients.raw(server.wsUrl())).socketId);
    expect(ids.size).toBe(5);
  });

  test("clients of different apps connect side by side and never see each other's events", async () => {
    server = await startTestServer({
      apps: [
        { ...APP, accept_client_events_from: "members" },
        { app_id: "654321", key: "reverb-key-2", secret: "reverb-secret-2" },
      ],
    });
    const first = await clients.raw(server.wsUrl("reverb-key"));
    const second = await clients.raw(server.wsUrl("reverb-key-2"));
    expect(first.frames[0]!.event).toBe("pusher:connection_established");
    expect(second.frames[0]!.event).toBe("pusher:connection_established");
    await first.subscribe("news");
    await second.subscribe("news");

    await triggerEvent(server, { name: "only-app-2", data: "{}", channel: "news" }, { app_id: "654321", key: "reverb-key-2", secret: "reverb-secret-2" });
    await second.next("only-app-2");
    await quiet(100);
    expect(first.count("only-app-2")).toBe(0);
  });

  test("with a route prefix, pusher-js connects under it", async () => {
    server = await startTestServer({ server: { path: "ws" } });
    expect(server.wsUrl()).toContain("/ws/app/");
    const pusher = await clients.pusher(server);
    expect(pusher.connection.socket_id).toMatch(SOCKET_ID);
  });
});

describe("simple replies", () => {
  test("pusher:ping is answered with exactly {\"event\":\"pusher:pong\"}", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send({ event: "pusher:ping", data: {} });
    await client.next("pusher:pong");
    client.send({ event: "pusher:ping" });
    await until(() => client.count("pusher:pong") === 2, "second pong");
    expect(client.raw.slice(1)).toEqual(['{"event":"pusher:pong"}', '{"event":"pusher:pong"}']);
  });

  test("pusher:pong from the client gets no reply", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send({ event: "pusher:pong", data: {} });
    await quiet(150);
    expect(client.frames).toHaveLength(1);
  });

  test("pusher:unsubscribe sends nothing back, and the channel's events stop arriving", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    await client.subscribe("news");
    await triggerEvent(server, { name: "first", data: "{}", channel: "news" });
    await client.next("first");

    const before = client.frames.length;
    client.send({ event: "pusher:unsubscribe", data: { channel: "news" } });
    client.send({ event: "pusher:unsubscribe", data: { channel: "never-subscribed" } });
    // A pong proves the server has read the unsubscribes: the event below may come from another
    // worker, whose news can overtake this socket's frames.
    client.send({ event: "pusher:ping" });
    await client.next("pusher:pong", before);
    await triggerEvent(server, { name: "second", data: "{}", channel: "news" });
    await quiet(150);
    expect(client.frames.slice(before)).toEqual([{ event: "pusher:pong" }]);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("subscribing to the empty channel name succeeds with a frame that has no channel key", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const frame = await client.subscribe("");
    expect(frame).toEqual({ event: "pusher_internal:subscription_succeeded", data: "{}" });
    expect("channel" in frame).toBe(false);
  });

  test("a client re-sending pusher:connection_established gets the same socket id back", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.send({ event: "pusher:connection_established", data: {} });
    await until(() => client.count("pusher:connection_established") === 2, "second connection_established");
    expect(client.frames[1]).toEqual(client.frames[0]!);
  });

  test("a binary frame is read as text", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    client.ws.send(new TextEncoder().encode('{"event":"pusher:ping"}'));
    expect(await client.next("pusher:pong")).toEqual({ event: "pusher:pong" });
  });
});
