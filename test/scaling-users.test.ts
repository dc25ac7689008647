import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type Pusher from "pusher-js";
import { signUser } from "../src/protocol/signatures.ts";
import { startFleet, startNode, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { sdkAt, signIn } from "./helpers/users.ts";
import { until, within } from "./helpers/waits.ts";

let redis: RedisServer;
let nodes: FleetNode[];
const opened: Array<{ disconnect(): void }> = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  nodes = await startFleet(2, { redisUrl: redis.url, app: { subscription_count: true } });
}, 30_000);

afterEach(() => {
  for (const client of opened.splice(0)) client.disconnect();
});

afterAll(async () => {
  await stopFleet(nodes);
  await redis.kill();
});

const track = (client: { disconnect(): void }) => void opened.push(client);

async function raw(node: FleetNode): Promise<RawClient> {
  const client = await RawClient.connect(node.wsUrl());
  opened.push({ disconnect: () => client.ws.terminate() });
  return client;
}

async function rawSignIn(node: FleetNode, userData: Record<string, unknown>): Promise<RawClient> {
  const client = await raw(node);
  const text = JSON.stringify(userData);
  client.send({ event: "pusher:signin", data: { auth: signUser(APP.key, APP.secret, client.socketId, text), user_data: text } });
  await client.next("pusher:signin_success");
  return client;
}

function watchlistEvents(client: Pusher, into: unknown[]): void {
  client.user.watchlist.bind("online", (event: unknown) => into.push(event));
  client.user.watchlist.bind("offline", (event: unknown) => into.push(event));
}

describe("user features on a 2-node fleet over Redis", () => {
  test("sendToUser through either node reaches the user's sockets on both nodes", async () => {
    const [a, b] = nodes as [FleetNode, FleetNode];
    const onA = await signIn(a, { id: "fleet-alice" }, track);
    const onB = await signIn(b, { id: "fleet-alice" }, track);
    const got: Array<[string, unknown]> = [];
    onA.user.bind("ping", (data: unknown) => got.push(["a", data]));
    onB.user.bind("ping", (data: unknown) => got.push(["b", data]));
    await sdkAt(a).sendToUser("fleet-alice", "ping", { from: "a" });
    await sdkAt(b).sendToUser("fleet-alice", "ping", { from: "b" });
    await until(() => got.length === 4, "four deliveries");
    await quiet(200);
    expect(got.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([
      ["a", { from: "a" }],
      ["a", { from: "b" }],
      ["b", { from: "a" }],
      ["b", { from: "b" }],
    ]);
  });

  test("watchlist: online when the watched user signs in on the other node, offline only after their last socket anywhere", async () => {
    const [a, b] = nodes as [FleetNode, FleetNode];
    const events: unknown[] = [];
    await signIn(a, { id: "fleet-watcher", watchlist: ["fleet-bob"] }, (client) => {
      track(client);
      watchlistEvents(client, events);
    });
    const bobOnB = await rawSignIn(b, { id: "fleet-bob" });
    await until(() => events.length === 1, "bob online");
    expect(events[0]).toEqual({ name: "online", user_ids: ["fleet-bob"] });
    const bobOnA = await rawSignIn(a, { id: "fleet-bob" });
    bobOnB.ws.close();
    await quiet(500);
    expect(events).toHaveLength(1);
    bobOnA.ws.close();
    await until(() => events.length === 2, "bob offline");
    expect(events[1]).toEqual({ name: "offline", user_ids: ["fleet-bob"] });

    // A watcher signing in later hears at once who is online on the other node.
    await rawSignIn(b, { id: "fleet-carol" });
    const late: unknown[] = [];
    await signIn(a, { id: "fleet-late", watchlist: ["fleet-carol", "fleet-bob"] }, (client) => {
      track(client);
      watchlistEvents(client, late);
    });
    await until(() => late.length === 1, "carol online at signin");
    expect(late).toEqual([{ name: "online", user_ids: ["fleet-carol"] }]);
  });

  test("terminate_connections through one node closes the user's signed-in sockets on both", async () => {
    const [a, b] = nodes as [FleetNode, FleetNode];
    const onA = await rawSignIn(a, { id: "fleet-dave" });
    const onB = await rawSignIn(b, { id: "fleet-dave" });
    const bystander = await rawSignIn(b, { id: "fleet-erin" });
    await sdkAt(a).terminateUserConnections("fleet-dave");
    await within(Promise.all([onA.closed, onB.closed]), "both of dave's sockets to close");
    await quiet(200);
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
  });

  test("subscription counts are fleet-wide", async () => {
    const [a, b] = nodes as [FleetNode, FleetNode];
    const onA = await raw(a);
    await onA.subscribe("fleet-count");
    const onB = await raw(b);
    await onB.subscribe("fleet-count");
    const counts = (client: RawClient) =>
      client.frames.filter((frame) => frame.event === "pusher_internal:subscription_count").map((frame) => JSON.parse(frame.data as string).subscription_count);
    await onA.waitFor(() => counts(onA).at(-1) === 2, "A to see 2");
    await onB.waitFor(() => counts(onB).at(-1) === 2, "B to see 2");
    onB.ws.close();
    await onA.waitFor(() => counts(onA).at(-1) === 1, "A to see 1 after B's socket left");
    expect(counts(onA)).toEqual([1, 2, 1]);
  });

  test("a node that dies takes its signed-in users (watchlist offline) and its subscription counts with it", async () => {
    const [a] = nodes as [FleetNode, FleetNode];
    const watcher = await rawSignIn(a, { id: "fleet-watcher-2", watchlist: ["fleet-frank"] });
    await watcher.subscribe("fleet-doomed");
    const doomed = await startNode({ redisUrl: redis.url, app: { subscription_count: true } });
    try {
      await until(() => /joined the fleet/.test(doomed.output()) && (a.output().match(/joined the fleet/g) ?? []).length >= 2, "the third node joined");
      await rawSignIn(doomed, { id: "fleet-frank" });
      const there = await raw(doomed);
      await there.subscribe("fleet-doomed");
      // The new node learnt A's count when it joined (every node repeats its counts on a resync).
      await there.waitFor(() => there.frames.some((frame) => frame.event === "pusher_internal:subscription_count" && frame.data === '{"subscription_count":2}'), "the joiner to count 2");
      const watchlist = () => watcher.frames.filter((frame) => frame.event === "pusher_internal:watchlist_events").map((frame) => frame.data);
      const counts = () => watcher.frames.filter((frame) => frame.event === "pusher_internal:subscription_count").map((frame) => JSON.parse(frame.data as string).subscription_count);
      await watcher.waitFor(() => watchlist().length === 1 && counts().at(-1) === 2, "frank online and 2 subscribers");
      doomed.process.kill("SIGKILL");
      await watcher.waitFor(() => watchlist().length === 2 && counts().at(-1) === 1, "frank offline and 1 subscriber", 10_000);
      expect(watchlist()).toEqual([
        JSON.stringify({ events: [{ name: "online", user_ids: ["fleet-frank"] }] }),
        JSON.stringify({ events: [{ name: "offline", user_ids: ["fleet-frank"] }] }),
      ]);
    } finally {
      doomed.process.kill("SIGKILL");
      await doomed.process.exited;
    }
  }, 20_000);
});
