import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { RedisOptions } from "ioredis";
import type { ScalingConfig } from "../config/schema.ts";

export type RedisConnection = ScalingConfig["server"];

/** Back-off between reconnection attempts: 100 ms doubling to 5 s, for ever. */
function retryDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);
}

function tlsOptions(tls: RedisConnection["tls"]): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.verify };
  if (tls.ca) options.ca = readFileSync(tls.ca);
  if (tls.cert) options.cert = readFileSync(tls.cert);
  if (tls.key) options.key = readFileSync(tls.key);
  return options;
}

/**
 * ioredis options from Laravel's names; `url` wins over the separate parts, as in Laravel. With
 * Sentinels, ioredis asks them for the master and asks again after a failover.
 */
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
  let secure = connection.scheme === "tls";
  if (connection.url) {
    const url = new URL(connection.url);
    options.host = url.hostname;
    options.port = Number(url.port || 6379);
    if (url.username) options.username = decodeURIComponent(url.username);
    if (url.password) options.password = decodeURIComponent(url.password);
    const db = url.pathname.replace("/", "");
    if (db) options.db = Number(db);
    secure ||= url.protocol === "rediss:";
  }
  if (secure) options.tls = tlsOptions(connection.tls);
  if (connection.sentinels.length > 0) {
    options.sentinels = connection.sentinels.map((entry) => {
      const at = entry.lastIndexOf(":");
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
    options.name = connection.sentinel_master;
    options.sentinelPassword = connection.sentinel_password ?? undefined;
    options.sentinelRetryStrategy = retryDelay;
    // Subscribes to the Sentinels' +switch-master, so a failover is acted on at once.
    options.failoverDetector = true;
    if (secure) {
      options.enableTLSForSentinelMode = true;
      options.sentinelTLS = options.tls;
    }
  }
  return options;
}
