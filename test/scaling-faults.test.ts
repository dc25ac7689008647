import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigSchema } from "../src/config/schema.ts";
import type { Logger } from "../src/log.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { Cleanups } from "./helpers/cleanups.ts";
import { startFleet, startNode, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { freePort } from "./helpers/ports.ts";
import { quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until } from "./helpers/waits.ts";

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

async function redisAndFleet(count: number, app: Record<string, unknown> = {}) {
  const redis = await RedisServer.start();
  cleanups.push(() => redis.kill());
  const nodes = await startFleet(count, { redisUrl: redis.url, nodeTimeout: 2, app });
  cleanups.push(() => stopFleet(nodes));
  return { redis, nodes };
}

function trigger(node: FleetNode, channel: string, data: string) {
  return signedFetch(node.url, "POST", `/apps/${APP.app_id}/events`, { name: "ping", channel, data }, APP);
}

describe("fleet faults", () => {
  test("after kill -9 of a node its users are removed everywhere within node_timeout", async () => {
    const { nodes } = await redisAndFleet(2);
    const observer = await cleanups.presence(nodes[0]!, "presence-crash", 1);
    await cleanups.presence(nodes[1]!, "presence-crash", 2);
    await observer.next("pusher_internal:member_added");
    nodes[1]!.process.kill("SIGKILL");
    const killedAt = Date.now();
    const removed = await observer.next("pusher_internal:member_removed", 0, 5000);
    // node_timeout is 2 s; the check runs every node_timeout / 4.
    expect(Date.now() - killedAt).toBeLessThan(2000 + 500 + 1000);
    expect(JSON.parse(removed.data as string)).toEqual({ user_id: 2 });
    expect(nodes[0]!.output()).toContain("silent for 2 s");
  });

  test("without Redis every node serves its own clients; cross-node delivery resumes when it returns", async () => {
    const { redis, nodes } = await redisAndFleet(2);
    const [a, b] = nodes as [FleetNode, FleetNode];
    const localA = [await cleanups.connect(a.wsUrl()), await cleanups.connect(a.wsUrl())];
    const remote = await cleanups.connect(b.wsUrl());
    for (const client of [...localA, remote]) await client.subscribe("outage");

    await redis.kill();
    await until(() => /Redis subscriber disconnected/.test(a.output()), "node A notices the outage");
    expect((await trigger(a, "outage", "during")).status).toBe(200);
    for (const client of localA) expect((await client.next("ping")).data).toBe("during");
    localA[0]!.send({ event: "client-local", channel: "outage", data: {} });
    await localA[1]!.next("client-local");

    await redis.restart();
    await until(() => (a.output().match(/Redis subscriber connected/g) ?? []).length >= 2, "node A reconnects", 10_000);
    await until(() => (b.output().match(/Redis subscriber connected/g) ?? []).length >= 2, "node B reconnects", 10_000);
    const from = remote.frames.length;
    await until(async () => {
      await trigger(a, "outage", "after");
      await quiet(100);
      return remote.frames.slice(from).some((frame) => frame.data === "after");
    }, "cross-node delivery after Redis returns", 10_000);
  });

  test("Redis unreachable at start: a clear log line, local clients served, the fleet joins when it comes up", async () => {
    const port = freePort();
    const a = await startNode({ redisUrl: `redis://127.0.0.1:${port}`, nodeTimeout: 2, waitForRedis: false });
    cleanups.push(() => stopFleet([a]));
    await until(() => /Redis (publisher|subscriber) cannot reach redis:\/\/127\.0\.0\.1:\d+\/?: .*retrying with back-off/.test(a.output()), "the log line");
    const local = [await cleanups.connect(a.wsUrl()), await cleanups.connect(a.wsUrl())];
    for (const client of local) await client.subscribe("early");
    expect((await trigger(a, "early", "local")).status).toBe(200);
    for (const client of local) expect((await client.next("ping")).data).toBe("local");

    const redis = await RedisServer.start(port);
    cleanups.push(() => redis.kill());
    await until(() => /Redis subscriber connected/.test(a.output()), "node A connects", 10_000);
    const b = await startNode({ redisUrl: redis.url, nodeTimeout: 2 });
    cleanups.push(() => stopFleet([b]));
    const remote = await cleanups.connect(b.wsUrl());
    await remote.subscribe("early");
    await until(async () => {
      await trigger(a, "early", "fleet");
      await quiet(100);
      return remote.frames.some((frame) => frame.data === "fleet");
    }, "cross-node delivery once Redis is up", 10_000);
  });

  test("max_connections counts the whole fleet", async () => {
    const { nodes } = await redisAndFleet(2, { max_connections: 2 });
    await cleanups.connect(nodes[0]!.wsUrl());
    await cleanups.connect(nodes[1]!.wsUrl());
    await quiet(1200); // two heartbeats carry the counts
    const refused = await cleanups.connect(nodes[0]!.wsUrl());
    expect(JSON.parse(refused.frames[0]!.data as string)).toEqual({ code: 4004, message: "Application is over connection quota" });
    expect((await refused.closed).code).toBe(4004);
  });

  test("reverb-uws restart reaches every node: clients get 4200 and each node exits 0", async () => {
    const { nodes } = await redisAndFleet(2);
    const clients = await Promise.all(nodes.map((node) => cleanups.connect(node.wsUrl())));
    const restart = Bun.spawn([process.execPath, join(import.meta.dir, "..", "src", "cli.ts"), "restart", "--config", nodes[0]!.configPath], {
      // An empty runtime folder: only the Redis broadcast can reach the nodes.
      env: { PATH: process.env.PATH ?? "", REVERB_RUNTIME_DIR: join(nodes[0]!.dir, "none") },
      stdout: "pipe",
    });
    expect(await restart.exited).toBe(0);
    expect(await new Response(restart.stdout).text()).toContain("Broadcast the restart signal to the fleet");
    for (const client of clients) expect((await client.closed).code).toBe(4200);
    for (const node of nodes) expect(await node.process.exited).toBe(0);
    for (const node of nodes) expect(node.output()).toContain("Restart requested through the fleet");
  });

  test("a forced subscriber disconnect is noticed, logged and recovered", async () => {
    const { redis, nodes } = await redisAndFleet(2);
    const remote = await cleanups.connect(nodes[1]!.wsUrl());
    await remote.subscribe("kicked");
    expect(await redis.command("CLIENT", "KILL", "TYPE", "pubsub")).toMatch(/^:[1-9]/);
    await until(() => /Redis subscriber disconnected/.test(nodes[1]!.output()), "disconnect logged");
    await until(() => (nodes[1]!.output().match(/Redis subscriber connected/g) ?? []).length >= 2, "resubscribed", 10_000);
    const from = remote.frames.length;
    await until(async () => {
      await trigger(nodes[0]!, "kicked", "again");
      await quiet(100);
      return remote.frames.slice(from).some((frame) => frame.data === "again");
    }, "delivery after the subscriber came back", 10_000);
  });

  /**
   * An in-process node with one subscriber on "burst"; `total` envelopes go into Redis from
   * another process while this thread, the node's socket loop, is blocked for 3 s.
   */
  async function burstWhileBlocked(total: number, scaling: Record<string, unknown> = {}) {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.kill());
    // 200k envelopes are ~20 MB: a subscriber that stopped reading while the loop is blocked would
    // pass the 8 MB hard limit and be cut off, losing events.
    expect(await redis.command("CONFIG", "SET", "client-output-buffer-limit", "pubsub 8mb 4mb 3")).toBe("+OK");

    const lines: string[] = [];
    const log: Logger = {
      debugging: false,
      info: (line) => lines.push(line),
      warn: (line) => lines.push(line),
      error: (line) => lines.push(line),
      debug: () => {},
    };
    const config = v.parse(ConfigSchema, {
      server: { host: "127.0.0.1", port: 0, scaling: { enabled: true, server: { url: redis.url }, ...scaling } },
      // The client reads 20 MB as fast as this box lets it; a slow consumer is another test's subject.
      apps: [{ ...APP, max_message_size: 0, max_buffered_bytes: 64 * 1024 * 1024 }],
    });
    const server: RunningServer = startServer(config, log);
    cleanups.push(() => server.stop());
    await until(() => lines.includes("Redis subscriber connected"), "subscriber up");
    const client = await cleanups.connect(`ws://127.0.0.1:${server.port}/app/${APP.key}`);
    await client.subscribe("burst");
    // Counted apart from RawClient's frame log, which is not made for 200k frames.
    const seen = { received: 0, last: "" };
    client.ws.addEventListener("message", (event) => {
      seen.received++;
      seen.last = String(event.data);
    });

    const publish = (count: number) => {
      const publisher = Bun.spawn(
        [process.execPath, join(import.meta.dir, "fixtures", "burst-publisher.ts"), redis.url, "reverb", APP.app_id, "burst", String(count)],
        { stdout: "pipe", stderr: "inherit" },
      );
      cleanups.push(() => publisher.kill());
      return publisher.exited;
    };
    const published = publish(total);
    // The socket loop is busy for 3 s; only the subscriber thread keeps reading Redis meanwhile.
    Bun.sleepSync(3000);
    expect(await published).toBe(0);
    return { server, lines, seen, publish };
  }

  test("200k cross-node events while the receiving loop is blocked: none lost, subscriber never dropped", async () => {
    const total = 200_000;
    const { server, lines, seen } = await burstWhileBlocked(total);
    await until(() => seen.received >= total, `${total} events`, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}: got ${seen.received}; server said: ${lines.join(" | ")}`);
    });
    await quiet(200);
    expect(seen.received).toBe(total);
    expect(JSON.parse(seen.last).data).toBe(String(total - 1));
    expect(lines.filter((line) => /disconnected/.test(line))).toEqual([]);
    // The loop fell about 3 s behind the subscriber thread, and monitoring says so.
    expect(server.hub.bus.health()!.backlogMs).toBeGreaterThan(1000);
  }, 90_000);

  test("past max_backlog a blocked loop's subscriber drops and counts, and recovers afterwards", async () => {
    const { server, lines, seen, publish } = await burstWhileBlocked(100_000, { max_backlog: 20_000 });
    await until(() => lines.some((line) => /dropped \d+ incoming envelopes/.test(line)), "the drop warning", 10_000);
    await quiet(500);
    // What was admitted while blocked is delivered; the rest was counted, not queued.
    expect(seen.received).toBeGreaterThanOrEqual(20_000);
    expect(seen.received).toBeLessThan(100_000);
    expect(server.hub.bus.health()!.droppedTotal).toBe(100_000 - seen.received);
    expect(lines.filter((line) => /disconnected/.test(line))).toEqual([]);

    const before = seen.received;
    expect(await publish(10)).toBe(0);
    await until(() => seen.received === before + 10, "events after the backlog cleared");
  }, 90_000);
});
