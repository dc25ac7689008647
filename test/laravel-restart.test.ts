import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import Redis from "ioredis";
import { bannerOf, runCli, type CliProcess } from "./helpers/cli.ts";
import { MariaDbServer } from "./helpers/mariadb.ts";
import { laravelApp, MYSQL_CACHE_TABLE, PGSQL_CACHE_TABLE, SQLITE_CACHE_TABLE, writeFileCacheForever } from "./helpers/laravel.ts";
import { PostgresServer } from "./helpers/postgres.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { until, within } from "./helpers/waits.ts";

/**
 * `php artisan reverb:restart` unchanged: the key it writes, in each cache store's own layout and
 * encoding, makes every node watching it drain (4200) and exit 0.
 */

const running: Bun.Subprocess[] = [];
const dirs: string[] = [];
let redis: RedisServer | null = null;

afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await redis?.kill();
});

const BASE_ENV = {
  APP_NAME: "Acme Shop",
  REVERB_SERVER_HOST: "127.0.0.1",
  REVERB_SERVER_PORT: "0",
  REVERB_APP_ID: "1",
  REVERB_APP_KEY: "key",
  REVERB_APP_SECRET: "secret",
};

/** Reverb's poll is 5 s; a node must have left within 10 s of the write. */
const RESTART_WITHIN_MS = 10_000;

interface Node {
  run: CliProcess;
  client: RawClient;
}

/** Two nodes on the same Laravel app (the second a box of two workers): both watch the key. */
async function startTwoNodes(app: string): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const extra of [{}, { REVERB_WORKERS: "2" }] as Record<string, string>[]) {
    const run = runCli(["start"], app, extra);
    running.push(run.child);
    const { port } = await bannerOf(run);
    await until(() => run.output.text.includes("for php artisan reverb:restart (last:"), `the first read of the key:\n${run.output.text}`, 5_000);
    nodes.push({ run, client: await RawClient.connect(`ws://127.0.0.1:${port}/app/key`) });
  }
  return nodes;
}

async function expectBothRestart(nodes: Node[]): Promise<void> {
  for (const { run, client } of nodes) {
    expect((await within(client.closed, "the 4200 close", RESTART_WITHIN_MS)).code).toBe(4200);
    const status = await within(run.child.exited, "exit", RESTART_WITHIN_MS);
    if (status !== 0) {
      await run.drained;
      throw new Error(`the node exited with ${status} after the restart:\n${run.output.text}`);
    }
    expect(run.output.text).toContain("Restart requested (php artisan reverb:restart): gracefully terminating connections");
  }
}

/** The `cache` row `php artisan reverb:restart` writes now: DatabaseStore::forever() is put() for 315360000 s. */
function restartRow(): [string, string, number] {
  const now = Math.floor(Date.now() / 1000);
  return ["acme_shop_cache_laravel:reverb:restart", `i:${now};`, now + 315_360_000];
}

function app(env: Record<string, string>): string {
  const dir = laravelApp({ ...BASE_ENV, ...env });
  dirs.push(dir);
  return dir;
}

describe("php artisan reverb:restart", () => {
  test("file store: an earlier restart is ignored, a new one restarts both nodes", async () => {
    const dir = app({ CACHE_STORE: "file" });
    writeFileCacheForever(dir, "laravel:reverb:restart", "i:1700000000;");
    const nodes = await startTwoNodes(dir);
    expect(nodes[0]!.run.output.text).toContain("(last: 1700000000)");
    // Past one poll the unchanged key has not restarted anyone.
    await Bun.sleep(5_500);
    for (const { run } of nodes) expect(run.child.exitCode).toBeNull();
    writeFileCacheForever(dir, "laravel:reverb:restart", `i:${Math.floor(Date.now() / 1000)};`);
    await expectBothRestart(nodes);
  }, 30_000);

  test("database store (SQLite, Laravel 11's default): cache prefix + key, serialize()d", async () => {
    const dir = app({ CACHE_STORE: "database", DB_CONNECTION: "sqlite" });
    const db = new Database(join(dir, "database", "database.sqlite"));
    db.run(SQLITE_CACHE_TABLE);
    const nodes = await startTwoNodes(dir);
    expect(nodes[0]!.run.output.text).toContain("key acme_shop_cache_laravel:reverb:restart");
    expect(nodes[0]!.run.output.text).toContain("(last: never)");
    // As an upsert, as the store writes it.
    db.run('insert into "cache" ("key", "value", "expiration") values (?, ?, ?) on conflict ("key") do update set "value" = excluded."value", "expiration" = excluded."expiration"', restartRow());
    db.close();
    await expectBothRestart(nodes);
  }, 30_000);

  test("database store on PostgreSQL (DB_CACHE_CONNECTION): the same row, through Bun's Postgres client", async () => {
    const pg = await PostgresServer.start();
    try {
      const admin = pg.client();
      for (const statement of PGSQL_CACHE_TABLE) await admin.unsafe(statement);
      const dir = app({ CACHE_STORE: "database", DB_CONNECTION: "sqlite", DB_CACHE_CONNECTION: "pgsql", DB_HOST: "127.0.0.1", DB_PORT: String(pg.port), DB_DATABASE: "laravel", DB_USERNAME: "postgres" });
      const nodes = await startTwoNodes(dir);
      await admin.unsafe('insert into "cache" ("key", "value", "expiration") values ($1, $2, $3) on conflict ("key") do update set "value" = "excluded"."value", "expiration" = "excluded"."expiration"', restartRow());
      await admin.close();
      await expectBothRestart(nodes);
    } finally {
      await pg.stop();
    }
  }, 30_000);

  test("database store on MariaDB: the same row, through Bun's MySQL client", async () => {
    const db = await MariaDbServer.start();
    try {
      const admin = db.client();
      await admin.unsafe(MYSQL_CACHE_TABLE);
      const dir = app({ CACHE_STORE: "database", DB_CONNECTION: "mariadb", DB_HOST: "127.0.0.1", DB_PORT: String(db.port), DB_DATABASE: "laravel", DB_USERNAME: "root" });
      const nodes = await startTwoNodes(dir);
      await admin.unsafe("insert into `cache` (`key`, `value`, `expiration`) values (?, ?, ?) on duplicate key update `value` = values(`value`), `expiration` = values(`expiration`)", restartRow());
      await admin.close();
      await expectBothRestart(nodes);
    } finally {
      await db.stop();
    }
  }, 40_000);

  test("redis store (CACHE_DRIVER, Laravel 10), a fleet over Redis: REDIS_PREFIX + cache prefix + ':' + key, a plain number, cache database 1", async () => {
    redis ??= await RedisServer.start();
    // A fleet over the same Redis, as a Forge/Envoyer deploy would restart it.
    const dir = app({ CACHE_DRIVER: "redis", REDIS_HOST: "127.0.0.1", REDIS_PORT: String(redis.port), CACHE_PREFIX: "shop", REVERB_SCALING_ENABLED: "true" });
    const nodes = await startTwoNodes(dir);
    await until(() => nodes.every(({ run }) => run.output.text.includes("joined the fleet")), "the fleet", 10_000);
    expect(nodes[0]!.run.output.text).not.toContain("Cannot read");
    const writer = new Redis({ port: redis.port, host: "127.0.0.1", db: 1 });
    await writer.set("acme_shop_database_shop:laravel:reverb:restart", String(Math.floor(Date.now() / 1000)));
    writer.disconnect();
    await expectBothRestart(nodes);
  }, 30_000);

  test("an unreachable cache is logged once, and the server keeps serving", async () => {
    const dir = app({ CACHE_STORE: "redis", REDIS_HOST: "127.0.0.1", REDIS_PORT: "1" });
    const run = runCli(["start"], dir);
    running.push(run.child);
    const { port } = await bannerOf(run);
    await until(() => run.output.text.includes("Cannot read reverb:restart from the Laravel Redis cache"), "the outage line");
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/key`);
    expect(client.frames[0]!.event).toBe("pusher:connection_established");
    await Bun.sleep(5_500);
    expect(run.output.text.split("Cannot read reverb:restart").length - 1).toBe(1);
    client.ws.close();
  }, 20_000);

  test("REVERB_RESTART_POLL=true without a readable cache store is refused at start", async () => {
    const dir = app({ CACHE_STORE: "memcached", REVERB_RESTART_POLL: "true" });
    const run = runCli(["start"], dir);
    running.push(run.child);
    expect(await within(run.child.exited, "exit", 10_000)).toBe(1);
    await run.drained;
    expect(run.output.text).toContain("REVERB_RESTART_POLL is on but CACHE_STORE (or CACHE_DRIVER) is not database, redis or file");
  });
});
