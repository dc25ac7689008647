import type { RedisOptions } from "ioredis";
import type { ScalingConfig } from "../config/schema.ts";

export type RedisConnection = ScalingConfig["server"];

/** Back-off between reconnection attempts: 100 ms doubling to 5 s, for ever. */
function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);
}

/** ioredis options from Laravel's names; `url` wins over the separate parts, as in Laravel. */
export function redisOptions(connection: RedisConnection): RedisOptions {
  const options: RedisOptions = {
    host: connection.host,
    port: connection.port,
    username: connection.username ?? undefined,
    password: connection.password ?? undefined,
    db: connection.database,
    retryStrategy: retryDelay,
    maxRetriesPerRequest: null,
    lazyConnect: false,
  };
  if (connection.url) {
    const url = new URL(connection.url);
    options.host = url.hostname;
    options.port = Number(url.port || 6379);
    if (url.username) options.username = decodeURIComponent(url.username);
    if (url.password) options.password = decodeURIComponent(url.password);
    const db = url.pathname.replace("/", "");
    if (db) options.db = Number(db);
    if (url.protocol === "rediss:") options.tls = {};
  }
  return options;
}
