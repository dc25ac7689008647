import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { readMetrics, startFleet, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { until } from "./helpers/waits.ts";
import { WebhookReceiver } from "./helpers/webhook-receiver.ts";

let redis: RedisServer;
let receiver: WebhookReceiver;
let nodes: FleetNode[];
const clients: RawClient[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  receiver = new WebhookReceiver();
  nodes = await startFleet(3, { redisUrl: redis.url, app: { webhooks: [{ url: receiver.url }] } });
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await stopFleet(nodes);
  await redis.kill();
  receiver.stop();
});

async function connect(node: FleetNode): Promise<RawClient> {
  const client = await RawClient.connect(node.wsUrl());
  clients.push(client);
  return client;
}

async function join(node: FleetNode, channel: string, user?: number): Promise<RawClient> {
  const client = await connect(node);
  const channelData = user === undefined ? null : JSON.stringify({ user_id: user });
  const auth = channel.startsWith("presence-") || channel.startsWith("private-") ? { auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData) } : {};
  const reply = await client.subscribe(channel, { ...auth, ...(channelData ? { channel_data: channelData } : {}) });
  expect(reply.event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

function on(channel: string): Array<Record<string, unknown>> {
  return receiver.events().filter((event) => event.channel === channel);
}

function nodeIdOf(node: FleetNode): string {
  return /Scaling on: node (\S+),/.exec(node.output())![1]!;
}

describe("webhooks across a 3-node fleet", () => {
  test("a channel occupied on two nodes is occupied once, counted fleet-wide, and vacated once after the last leave", async () => {
    const channel = "fleet-room";
    const a = await join(nodes[0]!, channel);
    await until(() => on(channel).length === 2, "occupied and count 1");
    const b = await join(nodes[1]!, channel);
    await until(() => on(channel).length === 3, "count 2");
    a.close();
    await until(() => on(channel).length === 4, "count 1");
    expect(on(channel)).toEqual([
      { name: "channel_occupied", channel },
      { name: "subscription_count", channel, subscription_count: 1 },
      { name: "subscription_count", channel, subscription_count: 2 },
      { name: "subscription_count", channel, subscription_count: 1 },
    ]);
    b.close();
    await until(() => on(channel).length === 5, "vacated", 5000);
    await quiet(500);
    expect(on(channel).slice(4)).toEqual([{ name: "channel_vacated", channel }]);
    expect(receiver.received.every((request) => request.valid)).toBe(true);
  }, 15_000);

  test("members follow the fleet roster: one member_added per user, one member_removed after their last socket anywhere", async () => {
    const channel = "presence-fleet";
    const a = await join(nodes[0]!, channel, 1);
    const b = await join(nodes[1]!, channel, 1);
    const c = await join(nodes[2]!, channel, 2);
    await until(() => on(channel).length === 3, "occupied and two members");
    await quiet(300);
    expect(on(channel)).toEqual([
      { name: "channel_occupied", channel },
      { name: "member_added", channel, user_id: "1" },
      { name: "member_added", channel, user_id: "2" },
    ]);
    a.close();
    await quiet(300);
    b.close();
    c.close();
    await until(() => on(channel).length === 6, "two removals and vacated", 5000);
    await quiet(500);
    expect(on(channel).slice(3).sort((x, y) => String(x.name + String(x.user_id)).localeCompare(y.name + String(y.user_id)))).toEqual([
      { name: "channel_vacated", channel },
      { name: "member_removed", channel, user_id: "1" },
      { name: "member_removed", channel, user_id: "2" },
    ]);
  }, 15_000);

  test("a reload onto another node sends nothing; a client event is sent once, by the node it came from", async () => {
    const channel = "presence-hop";
    const first = await join(nodes[0]!, channel, 5);
    await until(() => on(channel).length === 2, "occupied and member_added");
    first.close();
    await quiet(300);
    const again = await join(nodes[2]!, channel, 5);
    again.send({ event: "client-hello", channel, data: { hi: 1 } });
    await until(() => on(channel).length === 3, "the client event");
    await quiet(3500);
    expect(on(channel).slice(2)).toEqual([{ name: "client_event", channel, event: "client-hello", data: '{"hi":1}', socket_id: again.socketId, user_id: "5" }]);
  }, 15_000);

  test("when a node dies, the survivors vacate what only it held, once", async () => {
    const byId = [...nodes].sort((x, y) => nodeIdOf(x).localeCompare(nodeIdOf(y)));
    // The sender dies: the next lowest takes over once the node is given up on (node_timeout 3 s).
    const sender = byId[0]!;
    const channel = "doomed-room";
    await join(sender, channel, undefined);
    const survivor = await join(byId[1]!, "survivor-room");
    await until(() => on(channel).length === 2 && on("survivor-room").length === 2, "occupied");
    sender.process.kill("SIGKILL");
    await until(() => on(channel).length === 3, "vacated after node_timeout and the grace delay", 12_000);
    await quiet(500);
    expect(on(channel).slice(2)).toEqual([{ name: "channel_vacated", channel }]);
    expect(on("survivor-room")).toHaveLength(2);
    survivor.close();
  }, 20_000);

  test("a node that stops says goodbye: the next one takes over sending at once, not after node_timeout", async () => {
    const alive = nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null);
    expect(alive).toHaveLength(2);
    const [sender, heir] = alive.sort((x, y) => nodeIdOf(x).localeCompare(nodeIdOf(y))) as [FleetNode, FleetNode];
    const channel = "handover-room";
    const client = await join(heir, channel);
    await until(() => on(channel).length === 2, "occupied and count");
    sender.process.kill("SIGTERM");
    await sender.process.exited;
    // node_timeout is 3 s: only the goodbye can make the peer go this fast.
    await until(async () => (await readMetrics(heir)).get("reverb_bus_peers") === 0, "the stopped node forgotten", 1500);
    expect(heir.output()).toContain("left the fleet");
    client.close();
    await until(() => on(channel).length === 3, "vacated, sent by the heir", 5000);
    expect(on(channel).at(-1)).toEqual({ name: "channel_vacated", channel });
  }, 15_000);
});
