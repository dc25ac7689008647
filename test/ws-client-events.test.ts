import { afterEach, describe, expect, test } from "bun:test";
import type Echo from "laravel-echo";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients } from "./helpers/clients.ts";
import { quiet, type RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

const NOT_MEMBER = { event: "pusher:error", data: '{"code":4009,"message":"The client is not a member of the specified channel."}' };
const DISABLED = { event: "pusher:error", data: '{"code":4301,"message":"The app does not have client messaging enabled."}' };
const TYPING = { event: "client-start-typing", channel: "test-channel", data: { id: 123, name: "Joe Dixon" } };

async function serverWith(mode: string | undefined): Promise<TestServer> {
  const app = mode === undefined ? { ...APP } : { ...APP, accept_client_events_from: mode };
  return await startTestServer({ apps: [app] });
}

async function joinPresence(client: RawClient, channel: string, user: Record<string, unknown>) {
  const channelData = JSON.stringify(user);
  return client.subscribe(channel, { auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData), channel_data: channelData });
}

describe("whisper through laravel-echo", () => {
  async function subscribed(echo: Echo<"reverb">, name: string) {
    const channel = echo.private(name);
    let ready = false;
    channel.subscribed(() => (ready = true));
    await until(() => ready, `subscribed to ${name}`);
    return channel;
  }

  test("a whisper reaches the other subscriber and not the sender", async () => {
    server = await startTestServer();
    const alice = await clients.echo(server);
    const bob = await clients.echo(server);
    const aliceChannel = await subscribed(alice, "chat");
    const bobChannel = await subscribed(bob, "chat");
    const toAlice: unknown[] = [];
    const toBob: unknown[] = [];
    aliceChannel.listenForWhisper("typing", (data: unknown) => toAlice.push(data));
    bobChannel.listenForWhisper("typing", (data: unknown) => toBob.push(data));

    aliceChannel.whisper("typing", { name: "Alice" });
    await until(() => toBob.length === 1, "Bob to hear the whisper");
    expect(toBob).toEqual([{ name: "Alice" }]);
    await quiet(150);
    expect(toAlice).toEqual([]);
  });

  test("a whisper on a presence channel carries the sender's user_id to pusher-js", async () => {
    server = await startTestServer();
    const alice = await clients.echo(server, { user: { user_id: 1, user_info: { name: "Alice" } } });
    const bob = await clients.echo(server, { user: { user_id: 2, user_info: { name: "Bob" } } });
    const received: Array<{ data: unknown; metadata: unknown }> = [];
    let ready = 0;
    const aliceRoom = alice.join("room").here(() => ready++);
    bob.join("room").here(() => ready++);
    await until(() => ready === 2, "both in the room");
    bob.connector.pusher.channel("presence-room").bind("client-typing", (data: unknown, metadata: unknown) => received.push({ data, metadata }));

    aliceRoom.whisper("typing", { typing: true });
    await until(() => received.length === 1, "Bob to hear the whisper");
    expect(received[0]).toEqual({ data: { typing: true }, metadata: { user_id: 1 } });
  });
});

describe("members mode (accept_client_events_from: members)", () => {
  test("a subscriber's event on a public channel is relayed as {event, channel, data} to the others only", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await sender.subscribe("test-channel");
    await receiver.subscribe("test-channel");

    sender.send(TYPING);
    expect(await receiver.next("client-start-typing")).toEqual(TYPING);
    expect(Object.keys(receiver.frames.at(-1)!)).toEqual(["event", "channel", "data"]);
    await quiet(100);
    expect(sender.count("client-start-typing")).toBe(0);
    expect(sender.count("pusher:error")).toBe(0);
  });

  test("on a presence channel the relayed event gets the sender's user_id, with its JSON type", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await joinPresence(sender, "presence-room", { user_id: 1, user_info: { name: "Joe" } });
    await joinPresence(receiver, "presence-room", { user_id: "two" });

    sender.send({ event: "client-typing", channel: "presence-room", data: { on: true } });
    expect(await receiver.next("client-typing")).toEqual({ event: "client-typing", channel: "presence-room", data: { on: true }, user_id: 1 });
    receiver.send({ event: "client-typing", channel: "presence-room", data: { on: false } });
    expect(await sender.next("client-typing")).toEqual({ event: "client-typing", channel: "presence-room", data: { on: false }, user_id: "two" });
  });

  test("a client-supplied user_id is not trusted: only the sender's own membership counts", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await joinPresence(sender, "presence-room", { user_id: 1 });
    await joinPresence(receiver, "presence-room", { user_id: 2 });
    sender.send({ event: "client-typing", channel: "presence-room", data: {}, user_id: 999, extra: "x" });
    expect(await receiver.next("client-typing")).toEqual({ event: "client-typing", channel: "presence-room", data: {}, user_id: 1 });
  });

  test("data sent as a JSON string (Java/Flutter clients) is relayed as an object", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await sender.subscribe("test-channel");
    await receiver.subscribe("test-channel");
    sender.send({ event: "client-start-typing", channel: "test-channel", data: JSON.stringify(TYPING.data) });
    expect(await receiver.next("client-start-typing")).toEqual(TYPING);
  });

  test("a non-member gets 4009 and nothing is relayed", async () => {
    server = await serverWith("members");
    const outsider = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await receiver.subscribe("test-channel");

    outsider.send(TYPING);
    expect(await outsider.next("pusher:error")).toEqual(NOT_MEMBER);
    await quiet(100);
    expect(receiver.count("client-start-typing")).toBe(0);
    expect(outsider.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("after unsubscribing, the client is a non-member again", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    await sender.subscribe("test-channel");
    sender.send({ event: "pusher:unsubscribe", data: { channel: "test-channel" } });
    sender.send(TYPING);
    expect(await sender.next("pusher:error")).toEqual(NOT_MEMBER);
  });

  test("membership is looked up in the sender's own app", async () => {
    server = await startTestServer({
      apps: [
        { ...APP, accept_client_events_from: "members" },
        { app_id: "654321", key: "reverb-key-2", secret: "reverb-secret-2", accept_client_events_from: "members" },
      ],
    });
    const inApp1 = await clients.raw(server.wsUrl("reverb-key"));
    const inApp2 = await clients.raw(server.wsUrl("reverb-key-2"));
    const listener2 = await clients.raw(server.wsUrl("reverb-key-2"));
    await inApp2.subscribe("test-channel");
    await listener2.subscribe("test-channel");

    inApp1.send(TYPING);
    expect(await inApp1.next("pusher:error")).toEqual(NOT_MEMBER);
    inApp2.send(TYPING);
    expect(await listener2.next("client-start-typing")).toEqual(TYPING);
    await quiet(100);
    expect(listener2.count("client-start-typing")).toBe(1);
  });

  test("events not prefixed client- are ignored silently", async () => {
    server = await serverWith("members");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await sender.subscribe("test-channel");
    await receiver.subscribe("test-channel");
    sender.send({ event: "start-typing", channel: "test-channel", data: {} });
    sender.send({ event: "pusher_internal:member_added", channel: "test-channel", data: {} });
    await quiet(150);
    expect(receiver.frames).toHaveLength(2);
    expect(sender.frames).toHaveLength(2);
  });
});

describe("other modes", () => {
  test('"none" answers 4301 and relays nothing, even from a subscriber', async () => {
    server = await serverWith("none");
    const sender = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await sender.subscribe("test-channel");
    await receiver.subscribe("test-channel");

    sender.send(TYPING);
    expect(await sender.next("pusher:error")).toEqual(DISABLED);
    await quiet(100);
    expect(receiver.count("client-start-typing")).toBe(0);
    expect(sender.ws.readyState).toBe(WebSocket.OPEN);
  });

  test('"all" relays a non-subscriber\'s event, the whole message as sent', async () => {
    server = await serverWith("all");
    const outsider = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await receiver.subscribe("test-channel");

    const message = { ...TYPING, extra: "kept" };
    outsider.send(message);
    expect(await receiver.next("client-start-typing")).toEqual(message);
    await quiet(100);
    expect(outsider.count("pusher:error")).toBe(0);
    expect(outsider.count("client-start-typing")).toBe(0);
  });

  test("an app without the setting accepts client events from anyone (Reverb's fallback)", async () => {
    server = await serverWith(undefined);
    const outsider = await clients.raw(server.wsUrl());
    const receiver = await clients.raw(server.wsUrl());
    await receiver.subscribe("test-channel");
    outsider.send(TYPING);
    expect(await receiver.next("client-start-typing")).toEqual(TYPING);
  });
});
