import { afterEach, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { rmSync } from "node:fs";
import { bannerOf, runCli } from "./helpers/cli.ts";
import { laravelApp } from "./helpers/laravel.ts";
import { startFleet, stopFleet, type FleetNode, type FleetOptions } from "./helpers/fleet.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { makeTlsFiles, RedisSentinel, RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until } from "./helpers/waits.ts";

/** Managed Redis: a TLS port with a private CA, and a master that Sentinel fails over. */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fleet(count: number, options: FleetOptions): Promise<FleetNode[]> {
  const nodes = await startFleet(count, options);
  cleanups.push(() => stopFleet(nodes));
  return nodes;
}

async function client(node: FleetNode, channel: string): Promise<RawClient> {
  const socket = await RawClient.connect(node.wsUrl());
  cleanups.push(() => socket.close());
  await socket.subscribe(channel);
  return socket;
}

/**
 * Triggers through `from` every 300 ms until `to` has the event: delivery that resumes after a
 * fault, bounded in time. Returns how many triggers it took.
 */
async function deliveredAcross(from: FleetNode, to: RawClient, channel: string, ms: number): Promise<number> {
  let sent = 0;
  const deadline = Date.now() + ms;
  const before = to.count("probe");
  while (to.count("probe") === before) {
    if (Date.now() > deadline) throw new Error(`no cross-node delivery within ${ms} ms after ${sent} triggers`);
    await signedFetch(from.url, "POST", `/apps/${APP.app_id}/events`, { name: "probe", channel, data: String(sent++) }, APP).catch(() => null);
    await to.waitFor(() => to.count("probe") > before, "probe", 300).catch(() => null);
  }
  return sent;
}

describe("Redis over TLS (rediss://)", () => {
  test("a fleet talks through a TLS-only Redis with a private CA, and again after Redis restarts", async () => {
    const tls = makeTlsFiles();
    const redis = await RedisServer.start(undefined, { tls });
    cleanups.push(() => redis.kill());
    const nodes = await fleet(2, { redisUrl: redis.url, scaling: { server: { url: redis.url, tls: { ca: tls.ca } } } });
    expect(nodes[0]!.output()).toContain(`Redis rediss://127.0.0.1:${redis.port}`);
    const listener = await client(nodes[1]!, "tls-room");
    expect(await deliveredAcross(nodes[0]!, listener, "tls-room", 3_000)).toBe(1);

    await redis.kill();
    await redis.restart();
    await deliveredAcross(nodes[0]!, listener, "tls-room", 15_000);
  }, 40_000);

  test("without the CA the certificate is refused; with verify off it is accepted", async () => {
    const tls = makeTlsFiles();
    const redis = await RedisServer.start(undefined, { tls });
    cleanups.push(() => redis.kill());
    const [refused] = await fleet(1, { redisUrl: redis.url, waitForRedis: false });
    await until(() => /cannot reach rediss:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i.test(refused!.output()), `the refusal:\n${refused!.output()}`, 5_000);
    expect(refused!.output()).not.toContain("Redis subscriber connected");

    const [accepted] = await fleet(1, { redisUrl: redis.url, scaling: { server: { url: redis.url, tls: { verify: false } } } });
    expect(accepted!.output()).toContain("Redis subscriber connected");
  }, 30_000);
});

describe("Redis Sentinel", () => {
  test("the fleet finds the master through Sentinel, and delivers again after it fails over to the replica", async () => {
    const master = await RedisServer.start();
    cleanups.push(() => master.kill());
    const replica = await RedisServer.start(undefined, { replicaOf: master.port });
    cleanups.push(() => replica.kill());
    // Sentinel learns replicas from the master's INFO: start it once the replica is in sync.
    const probe = new Redis({ port: replica.port, host: "127.0.0.1" });
    await until(async () => (await probe.info("replication")).includes("master_link_status:up"), "the replica in sync", 10_000);
    probe.disconnect();
    const sentinel = await RedisSentinel.start(master.port);
    cleanups.push(() => sentinel.kill());
    await until(async () => (await sentinel.replicaCount()) === 1, "Sentinel to know the replica", 5_000);

    const scaling = { server: { sentinels: [`127.0.0.1:${sentinel.port}`], sentinel_master: "mymaster" } };
    const nodes = await fleet(2, { redisUrl: "redis://127.0.0.1:1", scaling });
    expect(nodes[0]!.output()).toContain(`master mymaster through Sentinels 127.0.0.1:${sentinel.port}`);
    const listener = await client(nodes[1]!, "sentinel-room");
    expect(await deliveredAcross(nodes[0]!, listener, "sentinel-room", 3_000)).toBe(1);

    await master.kill();
    await until(async () => (await sentinel.masterPort()) === replica.port, "the failover to the replica", 20_000);
    await deliveredAcross(nodes[0]!, listener, "sentinel-room", 20_000);
  }, 60_000);
});

describe("REDIS_PREFIX", () => {
  test("goes before the scaling channel, as Laravel's Redis client prefixes pub/sub channels", async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.kill());
    const dir = laravelApp({
      REVERB_SERVER_HOST: "127.0.0.1",
      REVERB_SERVER_PORT: "0",
      REVERB_APP_ID: "1",
      REVERB_APP_KEY: "key",
      REVERB_APP_SECRET: "secret",
      REVERB_SCALING_ENABLED: "true",
      REDIS_PORT: String(redis.port),
      REDIS_PREFIX: "shop_database_",
    });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const run = runCli(["start"], dir);
    cleanups.push(() => void run.child.kill("SIGKILL"));
    await bannerOf(run);
    const probe = new Redis({ port: redis.port, host: "127.0.0.1" });
    cleanups.push(() => probe.disconnect());
    await until(async () => ((await probe.pubsub("CHANNELS")) as string[]).includes("shop_database_reverb"), "the subscription on shop_database_reverb", 5_000);
    expect(await probe.pubsub("CHANNELS")).toEqual(["shop_database_reverb"]);
  });
});
