/**
 * Environment variables, named as Laravel Reverb names them. Each maps to a config path, so a
 * validation problem can be reported under the variable the user actually set.
 */
export const SERVER_ENV = {
  host: "REVERB_SERVER_HOST",
  port: "REVERB_SERVER_PORT",
  path: "REVERB_SERVER_PATH",
  hostname: "REVERB_HOST",
  "tls.cert": "REVERB_TLS_CERT",
  "tls.key": "REVERB_TLS_KEY",
  "tls.ca": "REVERB_TLS_CA",
  "tls.passphrase": "REVERB_TLS_PASSPHRASE",
  max_request_size: "REVERB_MAX_REQUEST_SIZE",
  metrics_token: "REVERB_METRICS_TOKEN",
  shutdown_timeout: "REVERB_SHUTDOWN_TIMEOUT",
  workers: "REVERB_WORKERS",
  max_open_files_reserve: "REVERB_MAX_OPEN_FILES_RESERVE",
  max_buffered_bytes_total: "REVERB_MAX_BUFFERED_BYTES_TOTAL",
  "scaling.enabled": "REVERB_SCALING_ENABLED",
  "scaling.channel": "REVERB_SCALING_CHANNEL",
  "scaling.prefix": "REVERB_SCALING_PREFIX",
  "scaling.node_timeout": "REVERB_SCALING_NODE_TIMEOUT",
  "scaling.query_timeout": "REVERB_SCALING_QUERY_TIMEOUT",
  "scaling.max_buffered": "REVERB_SCALING_MAX_BUFFERED",
  "scaling.max_backlog": "REVERB_SCALING_MAX_BACKLOG",
  "scaling.max_buffered_age": "REVERB_SCALING_MAX_BUFFERED_AGE",
  "scaling.stall_timeout": "REVERB_SCALING_STALL_TIMEOUT",
  "scaling.subscriber": "REVERB_SCALING_SUBSCRIBER",
  "webhooks.request_timeout": "REVERB_WEBHOOKS_REQUEST_TIMEOUT",
  "webhooks.retry_window": "REVERB_WEBHOOKS_RETRY_WINDOW",
  "webhooks.max_queue": "REVERB_WEBHOOKS_MAX_QUEUE",
  "webhooks.batching.enabled": "REVERB_WEBHOOKS_BATCHING",
  "webhooks.batching.duration": "REVERB_WEBHOOKS_BATCHING_DURATION",
  "webhooks.batching.max_events": "REVERB_WEBHOOKS_BATCHING_MAX_EVENTS",
  "scaling.server.url": "REDIS_URL",
  "scaling.server.host": "REDIS_HOST",
  "scaling.server.port": "REDIS_PORT",
  "scaling.server.username": "REDIS_USERNAME",
  "scaling.server.password": "REDIS_PASSWORD",
  "scaling.server.database": "REDIS_DB",
  "scaling.server.scheme": "REDIS_SCHEME",
  "scaling.server.tls.ca": "REDIS_TLS_CA",
  "scaling.server.tls.cert": "REDIS_TLS_CERT",
  "scaling.server.tls.key": "REDIS_TLS_KEY",
  "scaling.server.tls.verify": "REDIS_TLS_VERIFY",
  "scaling.server.sentinels": "REDIS_SENTINELS",
  "scaling.server.sentinel_master": "REDIS_SENTINEL_MASTER",
  "scaling.server.sentinel_password": "REDIS_SENTINEL_PASSWORD",
  "pulse.enabled": "REVERB_PULSE_ENABLED",
  "pulse.ingest_interval": "REVERB_PULSE_INGEST_INTERVAL",
  "pulse.sample_rate": "REVERB_PULSE_SAMPLE_RATE",
  "pulse.connection": "PULSE_DB_CONNECTION",
  "laravel.path": "REVERB_LARAVEL_PATH",
  "laravel.restart_poll": "REVERB_RESTART_POLL",
  "laravel.app_name": "APP_NAME",
  "laravel.cache.store": "CACHE_STORE",
  "laravel.cache.driver": "CACHE_DRIVER",
  "laravel.cache.prefix": "CACHE_PREFIX",
  "laravel.cache.database_connection": "DB_CACHE_CONNECTION",
  "laravel.cache.table": "DB_CACHE_TABLE",
  "laravel.cache.redis_connection": "REDIS_CACHE_CONNECTION",
  "laravel.cache.redis_database": "REDIS_CACHE_DB",
  "laravel.redis_prefix": "REDIS_PREFIX",
  "laravel.database.connection": "DB_CONNECTION",
  "laravel.database.url": "DB_URL",
  "laravel.database.host": "DB_HOST",
  "laravel.database.port": "DB_PORT",
  "laravel.database.database": "DB_DATABASE",
  "laravel.database.username": "DB_USERNAME",
  "laravel.database.password": "DB_PASSWORD",
} as const;

export const APP_ENV = {
  app_id: "REVERB_APP_ID",
  key: "REVERB_APP_KEY",
  secret: "REVERB_APP_SECRET",
  allowed_origins: "REVERB_APP_ALLOWED_ORIGINS",
  ping_interval: "REVERB_APP_PING_INTERVAL",
  activity_timeout: "REVERB_APP_ACTIVITY_TIMEOUT",
  max_connections: "REVERB_APP_MAX_CONNECTIONS",
  max_message_size: "REVERB_APP_MAX_MESSAGE_SIZE",
  accept_client_events_from: "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM",
  cache_ttl: "REVERB_APP_CACHE_TTL",
  max_cached_channels: "REVERB_APP_MAX_CACHED_CHANNELS",
  max_channels_per_connection: "REVERB_APP_MAX_CHANNELS_PER_CONNECTION",
  max_presence_members: "REVERB_APP_MAX_PRESENCE_MEMBERS",
  max_presence_member_size: "REVERB_APP_MAX_PRESENCE_MEMBER_SIZE",
  max_channel_name_length: "REVERB_APP_MAX_CHANNEL_NAME_LENGTH",
  max_event_name_length: "REVERB_APP_MAX_EVENT_NAME_LENGTH",
  user_authentication_timeout: "REVERB_APP_USER_AUTHENTICATION_TIMEOUT",
  subscription_count: "REVERB_APP_SUBSCRIPTION_COUNT",
  max_buffered_bytes: "REVERB_APP_MAX_BUFFERED_BYTES",
  "rate_limiting.enabled": "REVERB_APP_RATE_LIMITING_ENABLED",
  "rate_limiting.max_attempts": "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS",
  "rate_limiting.decay_seconds": "REVERB_APP_RATE_LIMIT_DECAY_SECONDS",
  "rate_limiting.terminate_on_limit": "REVERB_APP_RATE_LIMIT_TERMINATE",
} as const;

/** The env-configured app's one webhook: its URL, and a comma list of event types (default all). */
export const APP_WEBHOOK_ENV = {
  "webhooks.0.url": "REVERB_APP_WEBHOOK_URL",
  "webhooks.0.event_types": "REVERB_APP_WEBHOOK_EVENTS",
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** A minimal dotenv reader: `KEY=value`, optional `export`, quotes, `#` comments. */
export function parseDotEnv(source: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const rawLine of source.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(rawLine);
    if (!match) continue;
    const [, key, rest] = match as unknown as [string, string, string];
    let value = rest.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.indexOf(quote, 1) > 0) {
      value = value.slice(1, value.indexOf(quote, 1));
      if (quote === '"') value = value.replace(/\\n/g, "\n");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    result[key] = value;
  }
  return result;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node = (node[part] ??= {}) as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/** Copies the variables of `mapping` that are set in `env` into a config object. */
export function fromEnv(env: Env, mapping: Readonly<Record<string, string>>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [path, name] of Object.entries(mapping)) {
    const value = env[name];
    if (value !== undefined && value !== "") setPath(result, path, value);
  }
  return result;
}

export function hasAnyAppCredential(env: Env): boolean {
  return Boolean(env[APP_ENV.app_id] || env[APP_ENV.key] || env[APP_ENV.secret]);
}
