import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FLEET_METRICS_TOKEN, startFleet, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until } from "./helpers/waits.ts";

let redis: RedisServer;
let nodes: FleetNode[];
const clients: RawClient[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  nodes = await startFleet(3, { redisUrl: redis.url });
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await stopFleet(nodes);
  await redis.kill();
});

async function connect(node: FleetNode): Promise<RawClient> {
  const client = await RawClient.connect(node.wsUrl());
  clients.push(client);
  return client;
}

async function presence(node: FleetNode, channel: string, user: number): Promise<RawClient> {
  const client = await connect(node);
  await client.join(channel, { user_id: user, user_info: { name: `User ${user}` } });
  return client;
}

function trigger(node: FleetNode, body: Record<string, unknown>) {
  return signedFetch(node.url, "POST", `/apps/${APP.app_id}/events`, body, APP);
}

function get(node: FleetNode, path: string, params: Record<string, string> = {}) {
  return signedFetch(node.url, "GET", `/apps/${APP.app_id}${path}`, undefined, { ...APP, params });
}

describe("a 3-node fleet over Redis", () => {
  test("an event triggered through any node reaches clients on every node, once each", async () => {
    const subscribers = await Promise.all(nodes.map(connect));
    for (const client of subscribers) await client.subscribe("fleet-events");
    for (const [index, node] of nodes.entries()) {
      const response = await trigger(node, { name: "tick", channel: "fleet-events", data: String(index) });
      expect(response.status).toBe(200);
    }
    for (const client of subscribers) await client.waitFor(() => client.count("tick") === 3, "3 ticks");
    await quiet(200);
    for (const client of subscribers) {
      expect(client.frames.filter((frame) => frame.event === "tick").map((frame) => frame.data).sort()).toEqual(["0", "1", "2"]);
    }
  });

  test("socket_id exclusion works for a socket on another node", async () => {
    const subscribers = await Promise.all(nodes.map(connect));
    for (const client of subscribers) await client.subscribe("fleet-others");
    const excluded = subscribers[2]!;
    await trigger(nodes[0]!, { name: "others", channel: "fleet-others", data: "{}", socket_id: excluded.socketId });
    await subscribers[0]!.next("others");
    await subscribers[1]!.next("others");
    await quiet(300);
    expect(excluded.count("others")).toBe(0);
  });

  test("client events cross nodes and skip their sender", async () => {
    const [a, b, c] = await Promise.all(nodes.map(connect));
    for (const client of [a!, b!, c!]) await client.subscribe("fleet-whisper");
    a!.send({ event: "client-typing", channel: "fleet-whisper", data: { who: "a" } });
    expect((await b!.next("client-typing")).data).toEqual({ who: "a" });
    expect((await c!.next("client-typing")).data).toEqual({ who: "a" });
    await quiet(200);
    expect(a!.count("client-typing")).toBe(0);
  });

  test("presence is fleet-wide: one member per user, removed after their last socket anywhere", async () => {
    const channel = "presence-fleet";
    const observer = await presence(nodes[2]!, channel, 9);
    const first = await presence(nodes[0]!, channel, 1);
    const second = await presence(nodes[1]!, channel, 1);
    await observer.waitFor(() => observer.count("pusher_internal:member_added") >= 1, "member_added");
    await quiet(300);
    expect(observer.frames.filter((frame) => frame.event === "pusher_internal:member_added").map((frame) => JSON.parse(frame.data as string))).toEqual([
      { user_id: 1, user_info: { name: "User 1" } },
    ]);

    const late = await presence(nodes[1]!, channel, 2);
    const succeeded = late.frames.find((frame) => frame.event === "pusher_internal:subscription_succeeded")!;
    // Each node lists members in the order it heard of them, which may differ between nodes.
    const { presence: members } = JSON.parse(succeeded.data as string) as { presence: { count: number; ids: number[]; hash: unknown } };
    expect({ ...members, ids: members.ids.toSorted() }).toEqual({
      count: 3,
      ids: [1, 2, 9],
      hash: { "9": { name: "User 9" }, "1": { name: "User 1" }, "2": { name: "User 2" } },
    });
    for (const node of nodes) {
      expect(await (await get(node, `/channels/${channel}`, { info: "user_count" })).json()).toEqual({ occupied: true, user_count: 3 });
      const { users } = (await (await get(node, `/channels/${channel}/users`)).json()) as { users: Array<{ id: number }> };
      expect(users.map((user) => user.id).toSorted()).toEqual([1, 2, 9]);
    }

    first.close();
    await quiet(400);
    expect(observer.count("pusher_internal:member_removed")).toBe(0);
    second.close();
    const removed = await observer.next("pusher_internal:member_removed");
    expect(JSON.parse(removed.data as string)).toEqual({ user_id: 1 });
    const userCount = async () => ((await (await get(nodes[0]!, `/channels/${channel}`, { info: "user_count" })).json()) as { user_count: number }).user_count;
    await until(async () => (await userCount()) === 2, "user_count 2");
  });

  test("HTTP queries answer for the whole fleet", async () => {
    const clientsHere = await Promise.all([connect(nodes[0]!), connect(nodes[1]!), connect(nodes[1]!)]);
    for (const client of clientsHere) await client.subscribe("fleet-count");
    for (const node of nodes) {
      expect(await (await get(node, "/channels/fleet-count", { info: "subscription_count" })).json()).toEqual({ occupied: true, subscription_count: 3 });
      const channels = (await (await get(node, "/channels", { filter_by_prefix: "fleet-count", info: "subscription_count" })).json()) as Record<string, unknown>;
      expect(channels).toEqual({ channels: { "fleet-count": { subscription_count: 3 } } });
    }
    const counts = await Promise.all(nodes.map(async (node) => ((await (await get(node, "/connections")).json()) as { connections: number }).connections));
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeGreaterThanOrEqual(3);
  });

  test("a cache channel's last event is replayed on any node", async () => {
    const publisher = await connect(nodes[0]!);
    await publisher.subscribe("cache-fleet");
    await trigger(nodes[0]!, { name: "cached", channel: "cache-fleet", data: '{"v":1}' });
    await publisher.next("cached");
    await quiet(100);
    const late = await connect(nodes[2]!);
    await late.subscribe("cache-fleet");
    expect(await late.next("cached")).toEqual({ event: "cached", data: '{"v":1}', channel: "cache-fleet" });
  });

  test("each node reports the Redis link on /metrics", async () => {
    for (const node of nodes) {
      const text = await (await fetch(`${node.url}/metrics?token=${FLEET_METRICS_TOKEN}`)).text();
      expect(text).toContain('reverb_bus_connected{connection="publisher"} 1');
      expect(text).toContain('reverb_bus_connected{connection="subscriber"} 1');
      expect(text).toContain("reverb_bus_peers 2");
      expect(text).toContain("reverb_bus_buffered 0");
      expect(text).toMatch(/reverb_bus_backlog_seconds \d/);
    }
  });

  test("terminate_connections closes the user's sockets on every node", async () => {
    const channel = "presence-terminate";
    const observer = await presence(nodes[0]!, channel, 50);
    const victims = [await presence(nodes[1]!, channel, 77), await presence(nodes[2]!, channel, 77)];
    const response = await signedFetch(nodes[0]!.url, "POST", `/apps/${APP.app_id}/users/77/terminate_connections`, {}, APP);
    expect(response.status).toBe(200);
    await Promise.all(victims.map((victim) => victim.closed));
    const removed = await observer.next("pusher_internal:member_removed");
    expect(JSON.parse(removed.data as string)).toEqual({ user_id: 77 });
  });
});
