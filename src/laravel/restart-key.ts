import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import Redis from "ioredis";
import { redisOptions, type RedisConnection } from "../bus/redis-options.ts";
import { LARAVEL_CACHE_STORES, type LaravelConfig } from "../config/schema.ts";
import { openLaravelDatabase } from "./database.ts";
import { cachePrefix, cacheStore, redisPrefix } from "./names.ts";
import { unserializeScalar } from "./php-serialize.ts";

/** The key `php artisan reverb:restart` writes with `Cache::forever()`. */
export const RESTART_KEY = "laravel:reverb:restart";

/** Reads the key's current value (null: not set or expired); rejects while the store is unreachable. */
export interface RestartKeyReader {
  readonly store: string;
  /** Where the key lives, for the log. */
  readonly where: string;
  read(): Promise<string | number | boolean | null>;
  close(): void;
}

type Value = string | number | boolean | null;

/** Laravel's expiration column and file header are seconds; at or past it the entry is gone. */
const expired = (expiration: number) => Math.floor(Date.now() / 1000) >= expiration;

/** `FileStore`: sha1 of the bare key, two levels of folders, a 10-digit expiry then `serialize()`. */
function fileReader(laravel: LaravelConfig): RestartKeyReader {
  const hash = createHash("sha1").update(RESTART_KEY).digest("hex");
  const path = resolve(laravel.path, "storage", "framework", "cache", "data", hash.slice(0, 2), hash.slice(2, 4), hash);
  return {
    store: "file",
    where: `the Laravel file cache (${path})`,
    async read(): Promise<Value> {
      let contents: string;
      try {
        contents = await readFile(path, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw error;
      }
      if (expired(Number(contents.slice(0, 10)))) return null;
      return unserializeScalar(contents.slice(10));
    },
    close() {},
  };
}

/** `DatabaseStore`: table `cache`, key = cache prefix + name, `serialize()`d value (base64 on PostgreSQL when binary). */
function databaseReader(laravel: LaravelConfig): RestartKeyReader {
  const db = openLaravelDatabase(laravel, { connection: laravel.cache.database_connection, readonly: true });
  const key = cachePrefix(laravel) + RESTART_KEY;
  const query = `select ${db.quote("value")}, ${db.quote("expiration")} from ${db.quote(laravel.cache.table)} where ${db.quote("key")} = ${db.param(1)}`;
  return {
    store: "database",
    where: `the Laravel database cache (${db.kind} table ${laravel.cache.table}, key ${key})`,
    async read(): Promise<Value> {
      const rows = (await db.sql.unsafe(query, [key])) as { value: string | Uint8Array; expiration: number | string }[];
      const row = rows[0];
      if (!row || expired(Number(row.expiration))) return null;
      let value = typeof row.value === "string" ? row.value : new TextDecoder().decode(row.value);
      if (db.kind === "pgsql" && !value.includes(":") && !value.includes(";")) value = Buffer.from(value, "base64").toString("utf8");
      return unserializeScalar(value);
    },
    close: () => void db.close().catch(() => {}),
  };
}

/** How long one read waits for a Redis connection that is still being made. */
const CONNECT_WAIT_MS = 3_000;

function ready(redis: Redis, ms: number): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(() => {
    redis.off("ready", onReady);
    reject(new Error(`not connected after ${ms / 1000} s`));
  }, ms);
  const onReady = () => {
    clearTimeout(timer);
    resolve();
  };
  redis.once("ready", onReady);
  return promise;
}

/**
 * `RedisStore` on the `cache` connection: the client's prefix (`REDIS_PREFIX`), then the cache
 * prefix and a colon. Numbers are stored as plain strings, everything else `serialize()`d.
 */
function redisReader(laravel: LaravelConfig, connection: RedisConnection): RestartKeyReader {
  const database = laravel.cache.redis_connection === "cache" ? laravel.cache.redis_database : connection.database;
  // Reads fail fast while Redis is away (no offline queue); ioredis reconnects on its own.
  const redis = new Redis({ ...redisOptions(connection), db: database, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  redis.on("error", () => {});
  const prefix = cachePrefix(laravel);
  const key = `${redisPrefix(laravel)}${prefix === "" ? "" : `${prefix}:`}${RESTART_KEY}`;
  return {
    store: "redis",
    where: `the Laravel Redis cache (database ${database}, key ${key})`,
    async read(): Promise<Value> {
      if (redis.status !== "ready") await ready(redis, CONNECT_WAIT_MS);
      const value = await redis.get(key);
      if (value === null) return null;
      return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : unserializeScalar(value);
    },
    close: () => redis.disconnect(),
  };
}

/** The reader for the app's cache store, or null when that store is not one this server can read. */
export function openRestartKeyReader(laravel: LaravelConfig, redis: RedisConnection): RestartKeyReader | null {
  const store = cacheStore(laravel);
  if (store === "file") return fileReader(laravel);
  if (store === "database") return databaseReader(laravel);
  if (store === "redis") return redisReader(laravel, redis);
  return null;
}

/** Whether the restart key is polled: `REVERB_RESTART_POLL`, else whenever the store is readable. */
export function restartPollWanted(laravel: LaravelConfig): boolean {
  const readable = (LARAVEL_CACHE_STORES as readonly (string | null)[]).includes(cacheStore(laravel));
  return laravel.restart_poll ?? readable;
}
