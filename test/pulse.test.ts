import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { bannerOf, runCli, type CliProcess } from "./helpers/cli.ts";
import { laravelApp, MYSQL_PULSE_AGGREGATES, PGSQL_PULSE_AGGREGATES, SQLITE_PULSE_AGGREGATES } from "./helpers/laravel.ts";
import { MariaDbServer } from "./helpers/mariadb.ts";
import { PostgresServer } from "./helpers/postgres.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

/**
 * Pulse's Reverb messages card: after traffic, `pulse_aggregates` holds the rows Pulse's own
 * DatabaseStorage would have written for the same counts, and the card's graph() query reads them.
 */

const running: Bun.Subprocess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const APP = { app_id: "42", key: "pulse-key", secret: "pulse-secret" };
const ENV = {
  REVERB_SERVER_HOST: "127.0.0.1",
  REVERB_SERVER_PORT: "0",
  REVERB_APP_ID: APP.app_id,
  REVERB_APP_KEY: APP.key,
  REVERB_APP_SECRET: APP.secret,
  REVERB_PULSE_ENABLED: "true",
  REVERB_PULSE_INGEST_INTERVAL: "1",
  DB_CONNECTION: "sqlite",
};

interface Traffic {
  /** Frames the server sent to the clients, and messages it got from them. */
  sent: number;
  received: number;
  /** Unix seconds, within the minute all of it happened in. */
  at: number;
}

/** Waits, if needed, so the traffic that follows fits in one minute. */
async function startOfAMinute(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 50) await Bun.sleep((61 - second) * 1000);
}

/** Two clients subscribe, ping, send client events and get API events; both sides counted. */
async function traffic(port: number): Promise<Traffic> {
  let received = 0;
  const clients = await Promise.all([0, 1].map(() => RawClient.connect(`ws://127.0.0.1:${port}/app/${APP.key}`)));
  for (const client of clients) {
    await client.subscribe("news");
    received++;
    for (let i = 0; i < 3; i++) {
      client.send({ event: "pusher:ping", data: {} });
      received++;
    }
    await client.waitFor(() => client.count("pusher:pong") === 3, "3 pongs");
  }
  for (let i = 0; i < 5; i++) {
    const response = await signedFetch(`http://127.0.0.1:${port}`, "POST", `/apps/${APP.app_id}/events`, { name: "update", channel: "news", data: String(i) }, APP);
    expect(response.status).toBe(200);
  }
  for (const client of clients) await client.waitFor(() => client.count("update") === 5, "5 updates");
  const sent = clients.reduce((sum, client) => sum + client.frames.length, 0);
  for (const client of clients) client.close();
  return { sent, received, at: Math.floor(Date.now() / 1000) };
}

/** The rows Pulse's DatabaseStorage::preaggregateCounts() and upsertCount() write for `traffic` on SQLite. */
function pulseRows(traffic: Traffic, scale = 1) {
  const rows = [];
  for (const [type, count] of [["reverb_message:received", traffic.received], ["reverb_message:sent", traffic.sent]] as const) {
    for (const period of [60, 360, 1440, 10080]) {
      rows.push({
        bucket: Math.floor(traffic.at / period) * period,
        period,
        type,
        key: APP.app_id,
        key_hash: createHash("md5").update(APP.app_id).digest("hex"),
        aggregate: "count",
        value: count * scale,
        count: null,
      });
    }
  }
  return rows;
}

function storedRows(db: Database) {
  return db
    .query('select "bucket", "period", "type", "key", "key_hash", "aggregate", "value", "count" from "pulse_aggregates" order by "type", "period"')
    .all();
}

/**
 * The query behind Reverb's Messages card: Pulse's DatabaseStorage::graph() for the 1 hour view
 * (period 60, 60 data points of 60 s).
 */
function graph(db: Database, now: number) {
  const secondsPerPeriod = 3600 / 60;
  const currentBucket = Math.floor(now / secondsPerPeriod) * secondsPerPeriod;
  const firstBucket = currentBucket - 59 * secondsPerPeriod;
  return db
    .query('select "bucket", "type", "key", "value" from "pulse_aggregates" where "type" in (?, ?) and "aggregate" = ? and "period" = ? and "bucket" >= ? order by "bucket" asc')
    .all("reverb_message:sent", "reverb_message:received", "count", 60, firstBucket);
}

function pulseApp(env: Record<string, string> = {}): { dir: string; db: Database } {
  const dir = laravelApp({ ...ENV, ...env });
  dirs.push(dir);
  const db = new Database(join(dir, "database", "database.sqlite"));
  db.run("PRAGMA busy_timeout = 5000");
  return { dir, db };
}

async function start(dir: string, env: Record<string, string> = {}): Promise<{ run: CliProcess; port: number }> {
  const run = runCli(["start"], dir, env);
  running.push(run.child);
  const { port } = await bannerOf(run);
  return { run, port };
}

/** A node on a Laravel app with `env` over ENV: a minute's traffic, then SIGTERM (its last write). */
async function recordAndStop(env: Record<string, string>): Promise<Awaited<ReturnType<typeof traffic>>> {
  const dir = laravelApp({ ...ENV, ...env });
  dirs.push(dir);
  const { run, port } = await start(dir);
  await startOfAMinute();
  const done = await traffic(port);
  run.child.kill("SIGTERM");
  expect(await within(run.child.exited, "exit", 10_000)).toBe(0);
  return done;
}

describe("Pulse's Reverb messages card", () => {
  test("SQLite: the exact rows Pulse writes, read back by the card's graph() query", async () => {
    const { dir, db } = pulseApp();
    for (const statement of SQLITE_PULSE_AGGREGATES) db.run(statement);
    const { run, port } = await start(dir);
    expect(run.output.text).toContain("Pulse: writing Reverb message counts to sqlite table pulse_aggregates every 1 s");
    await startOfAMinute();
    const done = await traffic(port);
    // Written by the periodic flush, before any shutdown.
    await until(() => (db.query('select sum("value") as total from "pulse_aggregates" where "period" = 60').get() as { total: number | null }).total === done.sent + done.received, "the flush", 5_000);
    expect(storedRows(db)).toEqual(pulseRows(done));
    const card = graph(db, done.at) as { bucket: number; type: string; key: string; value: number }[];
    expect(card.sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      { bucket: Math.floor(done.at / 60) * 60, type: "reverb_message:received", key: APP.app_id, value: done.received },
      { bucket: Math.floor(done.at / 60) * 60, type: "reverb_message:sent", key: APP.app_id, value: done.sent },
    ]);
    run.child.kill("SIGTERM");
    expect(await within(run.child.exited, "exit", 10_000)).toBe(0);
    db.close();
  }, 40_000);

  test("a database outage is logged once; the counts are kept and written when it is back; sample_rate scales them", async () => {
    const { dir, db } = pulseApp({ REVERB_PULSE_SAMPLE_RATE: "0.5" });
    const { run, port } = await start(dir);
    await startOfAMinute();
    const done = await traffic(port);
    await until(() => run.output.text.includes("Pulse: cannot write to pulse_aggregates"), "the outage line", 5_000);
    await Bun.sleep(1_500);
    expect(run.output.text.split("Pulse: cannot write").length - 1).toBe(1);
    for (const statement of SQLITE_PULSE_AGGREGATES) db.run(statement);
    await until(() => run.output.text.includes("Pulse: writing to pulse_aggregates again"), "the recovery", 5_000);
    expect(storedRows(db)).toEqual(pulseRows(done, 0.5));
    db.close();
  }, 40_000);

  test("with two workers, each writes its own counts and the rows add up", async () => {
    const { dir, db } = pulseApp();
    for (const statement of SQLITE_PULSE_AGGREGATES) db.run(statement);
    const { run, port } = await start(dir, { REVERB_WORKERS: "2" });
    await startOfAMinute();
    const done = await traffic(port);
    run.child.kill("SIGTERM");
    expect(await within(run.child.exited, "exit", 10_000)).toBe(0);
    expect(storedRows(db)).toEqual(pulseRows(done));
    db.close();
  }, 40_000);

  test("PostgreSQL: the same rows, key_hash computed by the table as md5(key)::uuid", async () => {
    const pg = await PostgresServer.start();
    try {
      const admin = pg.client();
      for (const statement of PGSQL_PULSE_AGGREGATES) await admin.unsafe(statement);
      const done = await recordAndStop({ DB_CONNECTION: "pgsql", DB_HOST: "127.0.0.1", DB_PORT: String(pg.port), DB_DATABASE: "laravel", DB_USERNAME: "postgres", DB_PASSWORD: "" });
      const rows = await admin.unsafe('select "bucket", "period", "type", "key", "key_hash", "aggregate", "value", "count" from "pulse_aggregates" order by "type", "period"');
      const uuid = (hex: string) => hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
      // decimal(20, 2) comes back as text, as PHP's PDO reads it too.
      expect([...rows]).toEqual(pulseRows(done).map((row) => ({ ...row, key_hash: uuid(row.key_hash), value: `${row.value}.00` })));
      await admin.close();
    } finally {
      await pg.stop();
    }
  }, 40_000);

  test("MariaDB through DB_URL: the same rows, key_hash computed by the table as unhex(md5(key))", async () => {
    const db = await MariaDbServer.start();
    try {
      const admin = db.client();
      for (const statement of MYSQL_PULSE_AGGREGATES) await admin.unsafe(statement);
      // As in Laravel, the URL wins over the separate settings, which here lead nowhere.
      const url = `mysql://root@127.0.0.1:${db.port}/laravel`;
      const done = await recordAndStop({ DB_CONNECTION: "mariadb", DB_URL: url, DB_HOST: "127.0.0.1", DB_PORT: "1", DB_DATABASE: "elsewhere", DB_USERNAME: "nobody" });
      const rows = await admin.unsafe("select `bucket`, `period`, `type`, `key`, hex(`key_hash`) as `key_hash`, `aggregate`, `value`, `count` from `pulse_aggregates` order by `type`, `period`");
      expect([...rows]).toEqual(pulseRows(done).map((row) => ({ ...row, key_hash: row.key_hash.toUpperCase(), value: `${row.value}.00` })));
      await admin.close();
    } finally {
      await db.stop();
    }
  }, 40_000);
});
