import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as v from "valibot";

/**
 * Every configuration input, validated once at start. Values may come from a JSON/TS config file
 * (numbers, booleans) or from the environment (strings), so scalar fields accept both.
 */

const toScalar = (input: unknown): unknown => {
  if (typeof input !== "string") return input;
  const text = input.trim();
  if (text === "") return undefined;
  if (text === "null") return null;
  return text;
};

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return v.pipe(
    v.unknown(),
    v.transform((input) => {
      const value = toScalar(input);
      return typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    }),
    v.number("must be a whole number"),
    v.integer("must be a whole number"),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
}

/** A whole-number limit that `null` (in the environment: the word `null`) turns off. */
function limit(min: number) {
  return v.pipe(v.unknown(), v.transform(toScalar), v.nullable(integer(min)));
}

const boolean = v.pipe(
  v.unknown(),
  v.transform((input) => {
    const value = toScalar(input);
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    return value;
  }),
  v.boolean("must be true or false"),
);

const text = v.pipe(v.unknown(), v.transform(toScalar), v.string("must be a string"));
const nonEmpty = v.pipe(text, v.minLength(1, "must not be empty"));

/**
 * A path to a file the server reads when it starts listening (relative paths: from the working
 * directory). Checked here, so that an unreadable file is reported under the setting that names it.
 */
const readableFile = v.pipe(
  nonEmpty,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    try {
      readFileSync(dataset.value);
    } catch (error) {
      addIssue({ message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` });
    }
  }),
);

const stringList = v.pipe(
  v.unknown(),
  v.transform((input) => (typeof input === "string" ? input.split(",").map((part) => part.trim()).filter(Boolean) : input)),
  v.array(v.string(), "must be a list of strings"),
);

/** `accept_client_events_from`: anything but `all` or `members` turns client events off, as in Reverb. */
const clientEventsFrom = v.pipe(
  text,
  v.transform((value): "all" | "members" | "none" => (value === "all" || value === "members" ? value : "none")),
);

/** The webhook event names, as Pusher sends them. */
export const WEBHOOK_EVENT_TYPES = [
  "channel_occupied",
  "channel_vacated",
  "member_added",
  "member_removed",
  "client_event",
  "cache_miss",
  "subscription_count",
] as const;

const webhookUrl = v.pipe(
  nonEmpty,
  v.check((value) => {
    try {
      return ["http:", "https:"].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, "must be an http:// or https:// URL"),
);

/** Up to `max_events` events or `duration` milliseconds per request, whichever comes first. */
const BatchingSchema = v.object({
  enabled: v.optional(boolean, false),
  duration: v.optional(integer(1, 60_000), 50),
  max_events: v.optional(integer(1, 10_000), 100),
});

/** One receiver of an app's webhooks, with soketi's names so soketi configs port over. */
const WebhookSchema = v.object({
  url: webhookUrl,
  event_types: v.optional(
    v.pipe(stringList, v.array(v.picklist(WEBHOOK_EVENT_TYPES, `must each be one of ${WEBHOOK_EVENT_TYPES.join(", ")}`))),
    [...WEBHOOK_EVENT_TYPES],
  ),
  filter: v.optional(
    v.object({
      channel_name_starts_with: v.optional(v.nullable(text), null),
      channel_name_ends_with: v.optional(v.nullable(text), null),
    }),
    {},
  ),
  /** Sent with every request; they cannot replace Content-Type, X-Pusher-Key or X-Pusher-Signature. */
  headers: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be valid header names")),
      v.pipe(v.string("must be strings"), v.regex(/^[^\r\n\0]*$/, "must not contain line breaks")),
    ),
    {},
  ),
  /** Null: the server-wide `webhooks.batching`. */
  batching: v.optional(v.nullable(BatchingSchema), null),
});

const RateLimitingSchema = v.object({
  enabled: v.optional(boolean, false),
  max_attempts: v.optional(integer(1), 60),
  decay_seconds: v.optional(integer(1), 60),
  terminate_on_limit: v.optional(boolean, false),
});

export const AppConfigSchema = v.object({
  app_id: v.pipe(nonEmpty, v.regex(/^[^/?#\s]+$/, "must not contain '/', '?', '#' or spaces")),
  key: v.pipe(nonEmpty, v.regex(/^[^/?#\s]+$/, "must not contain '/', '?', '#' or spaces")),
  secret: nonEmpty,
  allowed_origins: v.optional(stringList, ["*"]),
  ping_interval: v.optional(integer(1), 60),
  activity_timeout: v.optional(integer(1), 30),
  max_connections: v.optional(limit(1), null),
  /** Bytes; 0 means no limit of our own (the transport's 64 MiB still applies). */
  max_message_size: v.optional(integer(0), 10_000),
  /** Absent key means `all` (Reverb's fallback for configs published before the option). */
  accept_client_events_from: v.optional(clientEventsFrom, "all"),
  rate_limiting: v.optional(RateLimitingSchema, {}),
  /** Seconds a cache channel keeps its last event (Pusher: 30 minutes). */
  cache_ttl: v.optional(integer(1), 1800),
  /** Cache channels remembered per app; the least recently written go first. */
  max_cached_channels: v.optional(integer(1), 10_000),
  /** Channels one connection may be subscribed to at once; null: no limit. */
  max_channels_per_connection: v.optional(limit(1), 1_000),
  /** Distinct users on one presence channel across the fleet; null: no limit (Pusher's is 100). */
  max_presence_members: v.optional(limit(1), null),
  /** Bytes of one presence member's `channel_data`; null: no limit. */
  max_presence_member_size: v.optional(limit(1), null),
  /** Characters of a channel name a socket may subscribe or send client events to (Pusher: 200). */
  max_channel_name_length: v.optional(limit(1), 200),
  /** Characters of a client event's name (Pusher: 200). */
  max_event_name_length: v.optional(limit(1), 200),
  /**
   * Seconds a socket may stay without signing in or holding a private or presence channel
   * before it is closed with 4009 (Pusher's "authorized connections"); null: off.
   */
  user_authentication_timeout: v.optional(limit(1), null),
  /** Send `pusher_internal:subscription_count` to non-presence channels' subscribers. */
  subscription_count: v.optional(boolean, false),
  /**
   * Bytes waiting to be sent to one socket before it is closed with 4100: a client that stops
   * reading must not hold the server's memory. Keep it above the app's largest event.
   */
  max_buffered_bytes: v.optional(integer(1024), 1_048_576),
  /** Where this app's webhooks go; none: no webhook is built or queued. */
  webhooks: v.optional(v.array(WebhookSchema, "must be a list of webhooks"), []),
  /** Client-side settings (host, port, scheme, useTLS); kept for config compatibility, unused here. */
  options: v.optional(v.record(v.string(), v.unknown()), {}),
});

const ScalingSchema = v.object({
  enabled: v.optional(boolean, false),
  /** The one Redis pub/sub channel the fleet talks on. */
  channel: v.optional(nonEmpty, "reverb"),
  /** Put before the channel name so several fleets can share one Redis. */
  prefix: v.optional(v.pipe(v.unknown(), v.transform((input) => input ?? ""), v.string("must be a string")), ""),
  /** Seconds without a heartbeat after which a node's presence members are removed fleet-wide. */
  node_timeout: v.optional(integer(2), 10),
  /** Milliseconds to wait for other nodes' answers to an HTTP query. */
  query_timeout: v.optional(integer(10), 2_000),
  /** Where the Redis subscriber runs: its own thread, or the socket loop's (see bench/). */
  subscriber: v.optional(v.picklist(["worker", "inline"], "must be worker or inline"), "worker"),
  /** Envelopes heard but not yet applied by a busy socket loop; newer ones are dropped beyond it. */
  max_backlog: v.optional(integer(1), 500_000),
  /** Envelopes kept while Redis is unreachable; older ones are dropped beyond it. */
  max_buffered: v.optional(integer(0), 10_000),
  /**
   * Milliseconds an envelope may wait for Redis and still be sent; older ones are dropped on
   * recovery (presence is resynchronised instead), so a long outage is not replayed as a burst.
   */
  max_buffered_age: v.optional(integer(0), 5_000),
  /** Milliseconds a Redis connection may leave a PING unanswered before it counts as down. */
  stall_timeout: v.optional(integer(100), 3_000),
  server: v.optional(
    v.object({
      url: v.optional(v.nullable(text), null),
      host: v.optional(nonEmpty, "127.0.0.1"),
      port: v.optional(integer(1, 65_535), 6379),
      username: v.optional(v.nullable(text), null),
      password: v.optional(v.nullable(text), null),
      database: v.optional(integer(0), 0),
      /** `tls` (Laravel's `REDIS_SCHEME`) or a `rediss://` URL: connect over TLS. */
      scheme: v.optional(v.picklist(["tcp", "tls"], "must be tcp or tls"), "tcp"),
      tls: v.optional(
        v.object({
          /** PEM file of the CA that signed Redis's certificate (a private or self-signed CA). */
          ca: v.optional(v.nullable(readableFile), null),
          /** Client certificate and key, for a Redis that asks for one (`tls-auth-clients`). */
          cert: v.optional(v.nullable(readableFile), null),
          key: v.optional(v.nullable(readableFile), null),
          /** False: accept any certificate (encrypted, not authenticated). */
          verify: v.optional(boolean, true),
        }),
        {},
      ),
      /** `host:port` of each Sentinel; when set, the master is asked of them and host/port are unused. */
      sentinels: v.optional(
        v.pipe(
          stringList,
          v.array(v.pipe(v.string(), v.regex(/^[^\s:]+:\d{1,5}$/, "must each be host:port"))),
        ),
        [],
      ),
      sentinel_master: v.optional(nonEmpty, "mymaster"),
      sentinel_password: v.optional(v.nullable(text), null),
    }),
    {},
  ),
});

/** How webhooks are delivered, for every app. */
const WebhookDeliverySchema = v.object({
  /** Milliseconds one request may take before it counts as failed (and is retried). */
  request_timeout: v.optional(integer(100, 300_000), 5_000),
  /** Milliseconds after the first attempt during which failed requests are retried with back-off. */
  retry_window: v.optional(integer(0, 86_400_000), 300_000),
  /** Events queued or in flight per app; past it new events are dropped and counted. */
  max_queue: v.optional(integer(1), 10_000),
  batching: v.optional(BatchingSchema, {}),
});

/** Certificate files for serving wss:// and https:// directly (PEM). */
const TlsSchema = v.object({
  cert: readableFile,
  key: readableFile,
  /** Intermediate certificates, when `cert` holds only the site's own. */
  ca: v.optional(v.nullable(readableFile), null),
  /** For an encrypted `key`. */
  passphrase: v.optional(v.nullable(text), null),
});

/** The cache stores `reverb:restart` can write to that this server knows how to read. */
export const LARAVEL_CACHE_STORES = ["database", "redis", "file"] as const;

/**
 * The Laravel app next to this server, described with Laravel's own `.env` names, so its cache
 * (for `php artisan reverb:restart`) and database (for Pulse) are found where Laravel puts them.
 */
const LaravelSchema = v.object({
  /** The Laravel app's folder (relative: from the working directory): `storage/`, `database/`. */
  path: v.optional(nonEmpty, "."),
  /** Poll the cache key `reverb:restart` writes; null: whenever the `.env` names a readable cache store. */
  restart_poll: v.optional(v.nullable(boolean), null),
  /** `APP_NAME`: Laravel derives its default cache and Redis prefixes from it. */
  app_name: v.optional(nonEmpty, "Laravel"),
  cache: v.optional(
    v.object({
      /** `CACHE_STORE` (Laravel 11+), else `CACHE_DRIVER`; any other store is not polled. */
      store: v.optional(v.nullable(text), null),
      driver: v.optional(v.nullable(text), null),
      /** Null: Laravel's default, the slug of `APP_NAME` and `_cache_`. */
      prefix: v.optional(v.nullable(text), null),
      /** `DB_CACHE_CONNECTION`; null: the default database connection. */
      database_connection: v.optional(v.nullable(text), null),
      table: v.optional(nonEmpty, "cache"),
      /** `REDIS_CACHE_CONNECTION`: `cache` (database `REDIS_CACHE_DB`) or `default` (`REDIS_DB`). */
      redis_connection: v.optional(v.picklist(["cache", "default"], "must be cache or default"), "cache"),
      redis_database: v.optional(integer(0), 1),
    }),
    {},
  ),
  /** Null: Laravel's default, the slug of `APP_NAME` and `_database_`. */
  redis_prefix: v.optional(v.nullable(text), null),
  database: v.optional(
    v.object({
      connection: v.optional(v.picklist(["sqlite", "mysql", "mariadb", "pgsql"], "must be sqlite, mysql, mariadb or pgsql"), "sqlite"),
      url: v.optional(v.nullable(text), null),
      host: v.optional(nonEmpty, "127.0.0.1"),
      port: v.optional(v.nullable(integer(1, 65_535)), null),
      /** For SQLite a file; null: `database/database.sqlite` under `path`. */
      database: v.optional(v.nullable(text), null),
      username: v.optional(v.nullable(text), null),
      password: v.optional(v.nullable(text), null),
    }),
    {},
  ),
});

/** A share between 0 (excluded) and 1. */
const fraction = v.pipe(
  v.unknown(),
  v.transform((input) => {
    const value = toScalar(input);
    return typeof value === "string" && /^\d*\.?\d+$/.test(value) ? Number(value) : value;
  }),
  v.number("must be a number"),
  v.check((value) => value > 0 && value <= 1, "must be above 0 and at most 1"),
);

/** Laravel Pulse's Reverb messages card, written straight into Pulse's tables. */
const PulseSchema = v.object({
  enabled: v.optional(boolean, false),
  /** Seconds between writes (Reverb's `REVERB_PULSE_INGEST_INTERVAL`). */
  ingest_interval: v.optional(integer(1, 3_600), 15),
  /** The `sample_rate` of Pulse's `ReverbMessages` recorder: counts are written scaled by it. */
  sample_rate: v.optional(fraction, 1),
  /** `PULSE_DB_CONNECTION`; null: the default database connection. */
  connection: v.optional(v.nullable(text), null),
});

/** `auto`: one worker per CPU this process may use. */
const workerCount = v.pipe(
  v.unknown(),
  v.transform((input) => {
    const value = toScalar(input);
    if (value === "auto") return availableParallelism();
    return typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  }),
  v.number("must be a whole number or auto"),
  v.integer("must be a whole number or auto"),
  v.minValue(1, "must be at least 1"),
);

export const ServerConfigSchema = v.object({
  host: v.optional(nonEmpty, "0.0.0.0"),
  port: v.optional(integer(0, 65_535), 8080),
  /** Route prefix for every route; normalised to `/segment` or `""`. */
  path: v.optional(
    v.pipe(
      v.string("must be a string"),
      v.transform((value) => value.trim().replace(/^\/+|\/+$/g, "")),
      v.transform((value) => (value === "" ? "" : `/${value}`)),
    ),
    "",
  ),
  hostname: v.optional(v.nullable(text), null),
  /** Without it, a Herd/Valet certificate for `hostname` may be used (see tls.ts). */
  tls: v.optional(v.nullable(TlsSchema), null),
  /** Bytes of one HTTP request, headers included. */
  max_request_size: v.optional(integer(1), 10_000),
  debug: v.optional(boolean, false),
  /** Seconds a restart or SIGTERM waits for clients to go before closing the rest. */
  shutdown_timeout: v.optional(integer(0), 10),
  /** Bearer token for `/metrics` and `/dashboard`; without one they are off. */
  metrics_token: v.optional(v.nullable(text), null),
  /**
   * Open files kept free below the process's limit for everything that is not a WebSocket (the
   * API's connections, Redis, sockets still closing). Null: 2% of the limit, at least 32.
   */
  max_open_files_reserve: v.optional(v.nullable(integer(0)), null),
  /**
   * Bytes waiting to be sent, all sockets together; past it the largest are closed first (4100).
   * Null: a quarter of the memory the process may use.
   */
  max_buffered_bytes_total: v.optional(v.nullable(integer(1024)), null),
  scaling: v.optional(ScalingSchema, {}),
  /** Processes sharing the port (`start --workers`); 1 serves from the one process. */
  workers: v.optional(workerCount, 1),
  webhooks: v.optional(WebhookDeliverySchema, {}),
  laravel: v.optional(LaravelSchema, {}),
  pulse: v.optional(PulseSchema, {}),
});

export const ConfigSchema = v.pipe(
  v.object({
    server: v.optional(ServerConfigSchema, {}),
    apps: v.pipe(v.array(AppConfigSchema, "must be a list of apps"), v.minLength(1, "must list at least one app")),
  }),
  v.forward(
    v.check(({ apps }) => new Set(apps.map((app) => app.app_id)).size === apps.length, "app ids must be unique"),
    ["apps"],
  ),
  v.forward(
    v.check(({ apps }) => new Set(apps.map((app) => app.key)).size === apps.length, "app keys must be unique"),
    ["apps"],
  ),
);

export type AppConfig = v.InferOutput<typeof AppConfigSchema>;
export type ServerConfig = v.InferOutput<typeof ServerConfigSchema>;
export type TlsConfig = v.InferOutput<typeof TlsSchema>;
export type WebhookConfig = v.InferOutput<typeof WebhookSchema>;
export type WebhookDeliveryConfig = v.InferOutput<typeof WebhookDeliverySchema>;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
export type BatchingConfig = v.InferOutput<typeof BatchingSchema>;
export type ScalingConfig = v.InferOutput<typeof ScalingSchema>;
export type Config = v.InferOutput<typeof ConfigSchema>;
export type LaravelConfig = v.InferOutput<typeof LaravelSchema>;
export type PulseConfig = v.InferOutput<typeof PulseSchema>;
