import { afterEach, describe, expect, test } from "bun:test";
import { Cleanups } from "./helpers/cleanups.ts";
import { readMetrics, startFleet, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function redisAndFleet(scaling: Record<string, unknown>) {
  const redis = await RedisServer.start();
  // SIGKILL reaches a stopped process too; resume first anyway so nothing is left frozen.
  cleanups.push(async () => {
    redis.resume();
    await redis.kill();
  });
  const nodes = await startFleet(2, { redisUrl: redis.url, nodeTimeout: 2, scaling });
  cleanups.push(() => stopFleet(nodes));
  return { redis, nodes: nodes as [FleetNode, FleetNode] };
}

function trigger(node: FleetNode, channel: string, data: string) {
  return signedFetch(node.url, "POST", `/apps/${APP.app_id}/events`, { name: "tick", channel, data }, APP);
}

/**
 * Triggers on `node` every `everyMs` until stopped (and never past `maxMs`); each event's data is
 * `label:sequence:sent-at`, so receivers can tell which ones crossed and how old they were.
 */
function keepTriggering(node: FleetNode, channel: string, label: string, everyMs: number, maxMs: number) {
  let running = true;
  const sent: Array<{ seq: number; at: number }> = [];
  const done = (async () => {
    const deadline = Date.now() + maxMs;
    for (let seq = 0; running && Date.now() < deadline; seq++) {
      const at = Date.now();
      const response = await trigger(node, channel, `${label}:${seq}:${at}`);
      if (response.status !== 200) throw new Error(`trigger ${label}:${seq} answered ${response.status}`);
      sent.push({ seq, at });
      await quiet(everyMs);
    }
  })();
  return {
    sent,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** The sequence numbers of `label`'s events this client received. */
function received(client: RawClient, label: string): number[] {
  return client.frames
    .filter((frame) => frame.event === "tick" && String(frame.data).startsWith(`${label}:`))
    .map((frame) => Number(String(frame.data).split(":")[1]));
}

const stallWarning = (which: string, ms = 1000) => new RegExp(`Redis ${which} answered no PING within ${ms} ms`, "g");

describe("a stalled Redis (SIGSTOP)", () => {
  test("is an outage: warned once, bounded buffer, no false member_removed, clients kept, delivery resumes without stale events", async () => {
    const maxBuffered = 50;
    const { redis, nodes } = await redisAndFleet({ stall_timeout: 1000, max_buffered: maxBuffered, max_buffered_age: 1500 });
    const [a, b] = nodes;
    const members = [await cleanups.presence(a, "presence-stall", 1), await cleanups.presence(b, "presence-stall", 2)];
    await members[0]!.next("pusher_internal:member_added");
    const onA = [await cleanups.connect(a.wsUrl()), await cleanups.connect(a.wsUrl())];
    const onB = [await cleanups.connect(b.wsUrl()), await cleanups.connect(b.wsUrl())];
    for (const client of [...onA, ...onB]) await client.subscribe("stall");

    // ~40 events/s from each node for the whole test, during the stall too.
    const fromA = keepTriggering(a, "stall", "A", 20, 25_000);
    const fromB = keepTriggering(b, "stall", "B", 20, 25_000);
    cleanups.push(() => Promise.all([fromA.stop(), fromB.stop()]));
    await until(() => received(onB[0]!, "A").length > 5 && received(onA[0]!, "B").length > 5, "cross-node delivery before the stall");

    redis.pause();
    const pausedAt = Date.now();
    await until(
      () => nodes.every((node) => stallWarning("publisher").test(node.output()) && stallWarning("subscriber").test(node.output())),
      "both links of both nodes reported stalled",
      4000,
    );
    expect(Date.now() - pausedAt).toBeLessThan(4000);

    // Six seconds of stall, three node_timeouts: the buffer stays bounded while events keep coming.
    let maxSeen = 0;
    while (Date.now() - pausedAt < 6000) {
      const metrics = await readMetrics(a);
      expect(metrics.get('reverb_bus_connected{connection="publisher"}')).toBe(0);
      expect(metrics.get('reverb_bus_connected{connection="subscriber"}')).toBe(0);
      maxSeen = Math.max(maxSeen, metrics.get("reverb_bus_buffered")!);
      await quiet(250);
    }
    expect(maxSeen).toBe(maxBuffered);
    expect((await readMetrics(a)).get("reverb_bus_dropped_total")).toBeGreaterThan(0);
    // Local clients are served all along.
    const localDuring = received(onA[1]!, "A").length;
    await until(() => received(onA[1]!, "A").length > localDuring, "local delivery during the stall");

    redis.resume();
    const resumedAt = Date.now();
    for (const node of nodes) {
      await until(() => (node.output().match(/Redis subscriber connected/g) ?? []).length >= 2, "the subscriber back", 8000);
      await until(() => (node.output().match(/Redis publisher connected/g) ?? []).length >= 2, "the publisher back", 8000);
    }
    const fromResume = received(onB[0]!, "A").length;
    await until(() => received(onB[0]!, "A").length > fromResume + 5, "cross-node delivery after the stall", 5000);
    await Promise.all([fromA.stop(), fromB.stop()]);
    await quiet(500);

    for (const member of members) expect(member.count("pusher_internal:member_removed")).toBe(0);
    for (const client of [...members, ...onA, ...onB]) expect(client.ws.readyState).toBe(WebSocket.OPEN);
    for (const node of nodes) {
      // One warning per link per outage, and no peer given up for dead.
      expect(node.output().match(stallWarning("publisher"))).toHaveLength(1);
      expect(node.output().match(stallWarning("subscriber"))).toHaveLength(1);
      expect(node.output()).not.toContain("silent for");
      expect(node.output()).toMatch(/Redis publisher connected: sending \d+ buffered envelopes; \d+ dropped from the full buffer/);
    }
    // Nothing crossed twice, and nothing that waited past max_buffered_age was replayed: neither
    // what was buffered nor what had gone to the stalled connection before the stall was seen.
    const crossed = received(onB[0]!, "A");
    expect(new Set(crossed).size).toBe(crossed.length);
    const stale = fromA.sent.filter(({ at }) => at > pausedAt && at < resumedAt - 2500).map(({ seq }) => seq);
    expect(stale.length).toBeGreaterThan(10);
    expect(crossed.filter((seq) => stale.includes(seq))).toEqual([]);
    const metrics = await readMetrics(a);
    expect(metrics.get('reverb_bus_connected{connection="publisher"}')).toBe(1);
    expect(metrics.get("reverb_bus_buffered")).toBe(0);
  }, 40_000);

  test("with max_buffered_age 0 nothing that waited is resent, but terminate_connections still is", async () => {
    const { redis, nodes } = await redisAndFleet({ stall_timeout: 500, max_buffered_age: 0 });
    const victim = await cleanups.presence(nodes[1], "presence-kick", 77);
    const reader = await cleanups.connect(nodes[1].wsUrl());
    await reader.subscribe("waited");
    redis.pause();
    await until(() => stallWarning("publisher", 500).test(nodes[0].output()), "the stall seen by node A", 3000);
    expect((await trigger(nodes[0], "waited", "stale")).status).toBe(200);
    expect((await signedFetch(nodes[0].url, "POST", `/apps/${APP.app_id}/users/77/terminate_connections`, {}, APP)).status).toBe(200);
    await quiet(200);
    redis.resume();
    await within(victim.closed, "the victim's socket closed after the stall", 8000).catch((error: Error) => {
      throw new Error(`${error.message}\n${nodes[0].output()}\n---\n${nodes[1].output()}`);
    });
    await until(() => /Redis publisher connected: sending 1 buffered envelopes; 1 dropped as older than 0 ms/.test(nodes[0].output()), "the resend logged", 3000);
    await quiet(300);
    expect(reader.count("tick")).toBe(0);
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
  }, 20_000);

  test("before the stall is seen: ioredis is handed at most 256 KB, and a node whose own heartbeats stop coming back gives up on no peer", async () => {
    // The stall outlasts node_timeout but not stall_timeout: only the heartbeat rule can save it.
    const { redis, nodes } = await redisAndFleet({ stall_timeout: 20_000 });
    const members = [await cleanups.presence(nodes[0], "presence-silent", 1), await cleanups.presence(nodes[1], "presence-silent", 2)];
    await members[0]!.next("pusher_internal:member_added");
    const reader = await cleanups.connect(nodes[1].wsUrl());
    await reader.subscribe("unseen");
    redis.pause();
    const pausedAt = Date.now();
    // 400 KB for a Redis that answers nothing, the stall not yet seen: ioredis is handed at most
    // 256 KB, the rest waits in the node's own buffer.
    const data = "x".repeat(1000);
    for (let i = 0; i < 400; i++) expect((await trigger(nodes[0], "unseen", `${i}:${data}`)).status).toBe(200);
    const during = await readMetrics(nodes[0]);
    expect(during.get('reverb_bus_connected{connection="publisher"}')).toBe(1);
    expect(during.get("reverb_bus_buffered")).toBeGreaterThan(100);
    expect(during.get("reverb_bus_buffered")).toBeLessThan(400);
    await quiet(4000 - (Date.now() - pausedAt));
    redis.resume();
    // What went to Redis and what waited both arrive, once each and in order.
    await until(() => reader.count("tick") === 400, "all 400 events after the stall", 5000);
    expect(reader.frames.filter((frame) => frame.event === "tick").map((frame) => Number(String(frame.data).split(":")[0]))).toEqual(
      Array.from({ length: 400 }, (_, i) => i),
    );
    await quiet(1000);
    for (const member of members) expect(member.count("pusher_internal:member_removed")).toBe(0);
    for (const node of nodes) expect(node.output()).not.toContain("silent for");
    // The fleet still works both ways.
    for (const [from, to] of [[nodes[0], members[1]!] as const, [nodes[1], members[0]!] as const]) {
      const before = to.frames.length;
      expect((await trigger(from, "presence-silent", "after")).status).toBe(200);
      await to.next("tick", before);
    }
  }, 20_000);
});
