import { afterEach, describe, expect, test } from "bun:test";
import type Echo from "laravel-echo";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients, type PresenceUser } from "./helpers/clients.ts";
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

const ALICE = { user_id: 1, user_info: { name: "Alice" } };
const BOB = { user_id: 2, user_info: { name: "Bob" } };

/** What Echo hands to here/joining/leaving, recorded as it arrives. */
interface Seen {
  here: unknown[][];
  joining: unknown[];
  leaving: unknown[];
}

function join(echo: Echo<"reverb">, room: string): Seen {
  const seen: Seen = { here: [], joining: [], leaving: [] };
  echo
    .join(room)
    .here((members: unknown[]) => seen.here.push(members))
    .joining((member: unknown) => seen.joining.push(member))
    .leaving((member: unknown) => seen.leaving.push(member));
  return seen;
}

async function joined(echo: Echo<"reverb">, room: string): Promise<Seen> {
  const seen = join(echo, room);
  await until(() => seen.here.length === 1, "here()");
  return seen;
}

describe("presence through laravel-echo", () => {
  test("here lists the members, joining and leaving report the others", async () => {
    server = await startTestServer();
    const alice = await clients.echo(server, { user: ALICE });
    const aliceSeen = await joined(alice, "room");
    expect(aliceSeen.here).toEqual([[{ name: "Alice" }]]);

    const bob = await clients.echo(server, { user: BOB });
    const bobSeen = await joined(bob, "room");
    expect(bobSeen.here[0]).toEqual([{ name: "Alice" }, { name: "Bob" }]);
    await until(() => aliceSeen.joining.length === 1, "joining()");
    expect(aliceSeen.joining).toEqual([{ name: "Bob" }]);
    expect(bobSeen.joining).toEqual([]);

    bob.leave("room");
    await until(() => aliceSeen.leaving.length === 1, "leaving()");
    expect(aliceSeen.leaving).toEqual([{ name: "Bob" }]);
  });

  test("disconnecting is leaving", async () => {
    server = await startTestServer();
    const alice = await clients.echo(server, { user: ALICE });
    const aliceSeen = await joined(alice, "room");
    const bob = await clients.echo(server, { user: BOB });
    await joined(bob, "room");
    await until(() => aliceSeen.joining.length === 1, "joining()");

    bob.disconnect();
    await until(() => aliceSeen.leaving.length === 1, "leaving()");
    expect(aliceSeen.leaving).toEqual([{ name: "Bob" }]);
  });

  test("one user on two sockets is one member: joining on the first, leaving after the last", async () => {
    server = await startTestServer();
    const alice = await clients.echo(server, { user: ALICE });
    const aliceSeen = await joined(alice, "room");

    const bobTab1 = await clients.echo(server, { user: BOB });
    await joined(bobTab1, "room");
    await until(() => aliceSeen.joining.length === 1, "joining()");

    const bobTab2 = await clients.echo(server, { user: BOB });
    const tab2Seen = await joined(bobTab2, "room");
    expect(tab2Seen.here[0]).toEqual([{ name: "Alice" }, { name: "Bob" }]);
    const members = (bobTab2.connector.pusher.channel("presence-room") as unknown as { members: { count: number } }).members;
    expect(members.count).toBe(2);

    bobTab1.disconnect();
    await quiet(150);
    expect(aliceSeen.joining).toHaveLength(1);
    expect(aliceSeen.leaving).toEqual([]);

    bobTab2.leave("room");
    await until(() => aliceSeen.leaving.length === 1, "leaving()");
    expect(aliceSeen.leaving).toEqual([{ name: "Bob" }]);
  });
});

describe("presence frames", () => {
  async function joinRaw(client: RawClient, channel: string, user: PresenceUser | null) {
    const channelData = user === null ? null : JSON.stringify(user);
    return client.subscribe(channel, {
      auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData),
      ...(channelData === null ? {} : { channel_data: channelData }),
    });
  }

  /**
   * A subscription_succeeded's data, with ids in a set order: a node lists members in the order it
   * heard of them, and across workers a member joined elsewhere may be heard after a local one.
   */
  function presence(frame: { data?: unknown }) {
    const data = JSON.parse(frame.data as string) as { presence: { count: number; ids: unknown[]; hash: Record<string, unknown> } };
    data.presence.ids.sort((a, b) => String(a).localeCompare(String(b)));
    return data;
  }

  test("member_added carries the joiner's whole channel_data; member_removed only its user_id", async () => {
    server = await startTestServer();
    const first = await clients.raw(server.wsUrl());
    await joinRaw(first, "presence-room", ALICE);
    const second = await clients.raw(server.wsUrl());
    const withExtra = { ...BOB, role: "admin" };
    await joinRaw(second, "presence-room", withExtra);

    expect(await first.next("pusher_internal:member_added")).toEqual({
      event: "pusher_internal:member_added",
      data: JSON.stringify(withExtra),
      channel: "presence-room",
    });
    second.close();
    expect(await first.next("pusher_internal:member_removed")).toEqual({
      event: "pusher_internal:member_removed",
      data: '{"user_id":2}',
      channel: "presence-room",
    });
    expect(second.count("pusher_internal:member_added")).toBe(0);
  });

  test("the same user on two sockets: counted once, member_added once, member_removed after the last socket", async () => {
    server = await startTestServer();
    const watcher = await clients.raw(server.wsUrl());
    await joinRaw(watcher, "presence-room", ALICE);
    const tab1 = await clients.raw(server.wsUrl());
    await joinRaw(tab1, "presence-room", BOB);
    const tab2 = await clients.raw(server.wsUrl());
    const succeeded = await joinRaw(tab2, "presence-room", BOB);
    expect(presence(succeeded)).toEqual({ presence: { count: 2, ids: [1, 2], hash: { "1": { name: "Alice" }, "2": { name: "Bob" } } } });

    await quiet(100);
    expect(watcher.count("pusher_internal:member_added")).toBe(1);
    tab1.close();
    await quiet(150);
    expect(watcher.count("pusher_internal:member_removed")).toBe(0);
    tab2.send({ event: "pusher:unsubscribe", data: { channel: "presence-room" } });
    await watcher.next("pusher_internal:member_removed");
    await quiet(50);
    expect(watcher.count("pusher_internal:member_removed")).toBe(1);
  });

  test("user ids keep their JSON type, and \"1\" and 1 are the same user", async () => {
    server = await startTestServer();
    const first = await clients.raw(server.wsUrl());
    await joinRaw(first, "presence-room", { user_id: "abc", user_info: null });
    const second = await clients.raw(server.wsUrl());
    await joinRaw(second, "presence-room", { user_id: 1 });
    const third = await clients.raw(server.wsUrl());
    const frame = await joinRaw(third, "presence-room", { user_id: "1" });
    expect(presence(frame)).toEqual({ presence: { count: 2, ids: [1, "abc"], hash: { abc: null, "1": null } } });
    await quiet(100);
    expect(first.count("pusher_internal:member_added")).toBe(1);
  });

  test("hash is an object, not a list, when the ids are 0..n-1", async () => {
    server = await startTestServer();
    const first = await clients.raw(server.wsUrl());
    await joinRaw(first, "presence-room", { user_id: 0, user_info: { name: "Zero" } });
    const second = await clients.raw(server.wsUrl());
    const frame = await joinRaw(second, "presence-room", { user_id: 1, user_info: { name: "One" } });
    const data = presence(frame);
    expect(data).toEqual({ presence: { count: 2, ids: [0, 1], hash: { "0": { name: "Zero" }, "1": { name: "One" } } } });
    expect(Array.isArray(data.presence.hash)).toBe(false);
    expect(Object.keys(data.presence)).toEqual(["count", "ids", "hash"]);
  });

  test("hash is {} when there are no members", async () => {
    server = await startTestServer();
    const client = await clients.raw(server.wsUrl());
    const frame = await joinRaw(client, "presence-empty", null);
    expect(frame.data).toBe('{"presence":{"count":0,"ids":[],"hash":{}}}');
  });

  test("a presence member who leaves one channel stays a member of the other", async () => {
    server = await startTestServer();
    const watcher = await clients.raw(server.wsUrl());
    await joinRaw(watcher, "presence-a", ALICE);
    await joinRaw(watcher, "presence-b", ALICE);
    const bob = await clients.raw(server.wsUrl());
    await joinRaw(bob, "presence-a", BOB);
    await joinRaw(bob, "presence-b", BOB);
    await until(() => watcher.count("pusher_internal:member_added") === 2, "both member_added");

    bob.send({ event: "pusher:unsubscribe", data: { channel: "presence-a" } });
    const removed = await watcher.next("pusher_internal:member_removed");
    expect(removed.channel).toBe("presence-a");

    const late = await clients.raw(server.wsUrl());
    const frame = await joinRaw(late, "presence-b", { user_id: 3 });
    expect(presence(frame).presence.ids).toEqual([1, 2, 3]);
  });
});
