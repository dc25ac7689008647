import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";

const dirs: string[] = [];
function scratch(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-config-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const CREDENTIALS = { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret" };

describe("loadConfig", () => {
  test("defaults match Reverb's", async () => {
    const result = await loadConfig({ cwd: scratch(), env: CREDENTIALS });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.config.server).toMatchObject({ host: "0.0.0.0", port: 8080, path: "", hostname: null, max_request_size: 10_000, debug: false });
    expect(result.config.server.scaling).toMatchObject({ enabled: false, channel: "reverb", prefix: "", server: { host: "127.0.0.1", port: 6379, database: 0 } });
    expect(result.config.apps[0]).toMatchObject({
      app_id: "1",
      key: "key",
      secret: "secret",
      allowed_origins: ["*"],
      ping_interval: 60,
      activity_timeout: 30,
      max_connections: null,
      max_message_size: 10_000,
      accept_client_events_from: "members",
      rate_limiting: { enabled: false, max_attempts: 60, decay_seconds: 60, terminate_on_limit: false },
      max_channels_per_connection: 1_000,
      max_presence_members: null,
      max_presence_member_size: null,
      max_channel_name_length: 200,
      max_event_name_length: 200,
      user_authentication_timeout: null,
      subscription_count: false,
    });
  });

  test("every REVERB_* variable is read, as strings", async () => {
    const result = await loadConfig({
      cwd: scratch(),
      env: {
        ...CREDENTIALS,
        REVERB_SERVER_HOST: "127.0.0.1",
        REVERB_SERVER_PORT: "9000",
        REVERB_SERVER_PATH: "/ws/",
        REVERB_HOST: "ws.example.test",
        REVERB_MAX_REQUEST_SIZE: "20000",
        REVERB_APP_PING_INTERVAL: "10",
        REVERB_APP_ACTIVITY_TIMEOUT: "15",
        REVERB_APP_MAX_CONNECTIONS: "100",
        REVERB_APP_MAX_MESSAGE_SIZE: "0",
        REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM: "none",
        REVERB_APP_ALLOWED_ORIGINS: "laravel.com, *.laravel.com",
        REVERB_APP_RATE_LIMITING_ENABLED: "true",
        REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS: "5",
        REVERB_APP_RATE_LIMIT_DECAY_SECONDS: "2",
        REVERB_APP_RATE_LIMIT_TERMINATE: "true",
        REVERB_APP_MAX_CHANNELS_PER_CONNECTION: "null",
        REVERB_APP_MAX_PRESENCE_MEMBERS: "100",
        REVERB_APP_MAX_PRESENCE_MEMBER_SIZE: "1000",
        REVERB_APP_MAX_CHANNEL_NAME_LENGTH: "null",
        REVERB_APP_MAX_EVENT_NAME_LENGTH: "64",
        REVERB_APP_USER_AUTHENTICATION_TIMEOUT: "30",
        REVERB_APP_SUBSCRIPTION_COUNT: "true",
      },
    });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.config.server).toMatchObject({ host: "127.0.0.1", port: 9000, path: "/ws", hostname: "ws.example.test", max_request_size: 20_000 });
    expect(result.config.apps[0]).toMatchObject({
      ping_interval: 10,
      activity_timeout: 15,
      max_connections: 100,
      max_message_size: 0,
      accept_client_events_from: "none",
      allowed_origins: ["laravel.com", "*.laravel.com"],
      rate_limiting: { enabled: true, max_attempts: 5, decay_seconds: 2, terminate_on_limit: true },
      max_channels_per_connection: null,
      max_presence_members: 100,
      max_presence_member_size: 1000,
      max_channel_name_length: null,
      max_event_name_length: 64,
      user_authentication_timeout: 30,
      subscription_count: true,
    });
  });

  test(".env is read and the environment wins over it", async () => {
    const cwd = scratch({ ".env": 'REVERB_APP_ID=10\nREVERB_APP_KEY="from-file"\nREVERB_APP_SECRET=s # comment\nREVERB_SERVER_PORT=7000\n' });
    const result = await loadConfig({ cwd, env: { REVERB_SERVER_PORT: "7001" } });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.config.apps[0]).toMatchObject({ app_id: "10", key: "from-file", secret: "s" });
    expect(result.config.server.port).toBe(7001);
  });

  test("a config file serves several apps; absent accept_client_events_from means all", async () => {
    const cwd = scratch({
      "reverb.json": JSON.stringify({
        server: { port: 9100 },
        apps: [
          { app_id: "1", key: "k1", secret: "s1" },
          { app_id: "2", key: "k2", secret: "s2", max_connections: 1, accept_client_events_from: "members" },
        ],
      }),
    });
    const result = await loadConfig({ cwd, env: {}, configPath: "reverb.json", overrides: { port: "9200" } });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.config.apps.map((app) => [app.app_id, app.accept_client_events_from, app.max_connections])).toEqual([
      ["1", "all", null],
      ["2", "members", 1],
    ]);
    expect(result.config.server.port).toBe(9200);
  });

  test("a TS config file works too", async () => {
    const cwd = scratch({ "reverb.config.ts": 'export default { apps: [{ app_id: "7", key: "k7", secret: "s7" }] };\n' });
    const result = await loadConfig({ cwd, env: {}, configPath: "reverb.config.ts" });
    expect(result.ok && result.config.apps[0]!.app_id).toBe("7");
  });

  test("no credentials at all: a development app is generated", async () => {
    const result = await loadConfig({ cwd: scratch(), env: {} });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.generatedApp).toBe(true);
    expect(result.config.apps[0]!.app_id).toMatch(/^\d{6}$/);
    expect(result.config.apps[0]!.key).toMatch(/^[a-z0-9]{20}$/);
  });

  test("each problem is named by the key the user set, with the reason", async () => {
    const result = await loadConfig({
      cwd: scratch(),
      env: { REVERB_APP_ID: "1", REVERB_APP_KEY: "k", REVERB_SERVER_PORT: "http", REVERB_APP_PING_INTERVAL: "0", REVERB_APP_RATE_LIMITING_ENABLED: "maybe" },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContain('REVERB_SERVER_PORT: must be a whole number (got "http")');
    expect(result.errors).toContain("REVERB_APP_SECRET: is required");
    expect(result.errors).toContain("REVERB_APP_PING_INTERVAL: must be at least 1 (got 0)");
    expect(result.errors).toContain('REVERB_APP_RATE_LIMITING_ENABLED: must be true or false (got "maybe")');
  });

  test("the user-feature keys name themselves in their errors", async () => {
    const result = await loadConfig({
      cwd: scratch(),
      env: { ...CREDENTIALS, REVERB_APP_USER_AUTHENTICATION_TIMEOUT: "0", REVERB_APP_SUBSCRIPTION_COUNT: "sometimes", REVERB_APP_MAX_CHANNEL_NAME_LENGTH: "long" },
    });
    expect(result.ok ? [] : result.errors).toEqual(expect.arrayContaining([
      "REVERB_APP_USER_AUTHENTICATION_TIMEOUT: must be at least 1 (got 0)",
      'REVERB_APP_SUBSCRIPTION_COUNT: must be true or false (got "sometimes")',
      'REVERB_APP_MAX_CHANNEL_NAME_LENGTH: must be a whole number (got "long")',
    ]));
  });

  test("managed Redis and the Laravel app: Laravel's .env names, REDIS_PREFIX before the scaling channel, errors naming the variable", async () => {
    const dir = scratch({ "ca.pem": "-----BEGIN CERTIFICATE-----\n" });
    const env = {
      ...CREDENTIALS,
      REDIS_URL: "rediss://cache.example:6380",
      REDIS_TLS_CA: join(dir, "ca.pem"),
      REDIS_TLS_VERIFY: "false",
      REDIS_SENTINELS: "10.0.0.1:26379, 10.0.0.2:26379",
      REDIS_SENTINEL_MASTER: "primary",
      REDIS_PREFIX: "shop_",
      CACHE_STORE: "redis",
      DB_CONNECTION: "pgsql",
      DB_PORT: "5433",
    };
    const result = await loadConfig({ cwd: dir, env });
    if (!result.ok) throw new Error(result.errors.join("\n"));
    expect(result.config.server.scaling.prefix).toBe("shop_");
    expect(result.config.server.scaling.server).toMatchObject({
      url: "rediss://cache.example:6380",
      tls: { ca: join(dir, "ca.pem"), cert: null, key: null, verify: false },
      sentinels: ["10.0.0.1:26379", "10.0.0.2:26379"],
      sentinel_master: "primary",
    });
    expect(result.config.server.laravel).toMatchObject({ path: ".", restart_poll: null, app_name: "Laravel", redis_prefix: "shop_", cache: { store: "redis", table: "cache", redis_database: 1 } });
    expect(result.config.server.laravel.database).toMatchObject({ connection: "pgsql", port: 5433, host: "127.0.0.1" });

    const own = await loadConfig({ cwd: dir, env: { ...env, REVERB_SCALING_PREFIX: "fleet_" } });
    expect(own.ok && own.config.server.scaling.prefix).toBe("fleet_");

    const bad = await loadConfig({
      cwd: dir,
      env: { ...CREDENTIALS, REDIS_SENTINELS: "10.0.0.1", REDIS_TLS_CA: join(dir, "missing.pem"), DB_CONNECTION: "oracle", REVERB_RESTART_POLL: "often" },
    });
    expect(bad.ok ? [] : bad.errors).toEqual(expect.arrayContaining([
      'REDIS_SENTINELS: must each be host:port (got "10.0.0.1")',
      `REDIS_TLS_CA: cannot be read (ENOENT) (got "${join(dir, "missing.pem")}")`,
      'DB_CONNECTION: must be sqlite, mysql, mariadb or pgsql (got "oracle")',
      'REVERB_RESTART_POLL: must be true or false (got "often")',
    ]));
  });

  test("config file problems name the file and the key path; duplicate keys are refused", async () => {
    const cwd = scratch({
      "bad.json": JSON.stringify({ apps: [{ app_id: "1", key: "k", secret: "s" }, { app_id: "2", key: "k", secret: "s", ping_interval: "x" }] }),
      "broken.json": "{ apps: ",
    });
    const bad = await loadConfig({ cwd, env: {}, configPath: "bad.json" });
    expect(bad.ok ? [] : bad.errors).toEqual([
      'bad.json: apps.1.ping_interval: must be a whole number (got "x")',
    ]);
    const broken = await loadConfig({ cwd, env: {}, configPath: "broken.json" });
    expect(broken.ok ? "" : broken.errors[0]).toStartWith("broken.json: cannot be read:");
    const missing = await loadConfig({ cwd, env: {}, configPath: "nope.json" });
    expect(missing.ok ? "" : missing.errors[0]).toStartWith("nope.json: cannot be read:");
  });

  test("duplicate app keys are refused", async () => {
    const cwd = scratch({ "dup.json": JSON.stringify({ apps: [{ app_id: "1", key: "k", secret: "s" }, { app_id: "2", key: "k", secret: "s" }] }) });
    const result = await loadConfig({ cwd, env: {}, configPath: "dup.json" });
    expect(result.ok ? [] : result.errors).toEqual(["dup.json: apps: app keys must be unique"]);
  });

  test("overload limits: defaults, environment, and errors naming the variable", async () => {
    const defaults = await loadConfig({ cwd: scratch(), env: CREDENTIALS });
    if (!defaults.ok) throw new Error(defaults.errors.join("\n"));
    expect(defaults.config.server).toMatchObject({ max_open_files_reserve: null, max_buffered_bytes_total: null });
    expect(defaults.config.apps[0]!.max_buffered_bytes).toBe(1_048_576);

    const set = await loadConfig({
      cwd: scratch(),
      env: { ...CREDENTIALS, REVERB_MAX_OPEN_FILES_RESERVE: "500", REVERB_MAX_BUFFERED_BYTES_TOTAL: "1000000000", REVERB_APP_MAX_BUFFERED_BYTES: "65536" },
    });
    if (!set.ok) throw new Error(set.errors.join("\n"));
    expect(set.config.server).toMatchObject({ max_open_files_reserve: 500, max_buffered_bytes_total: 1_000_000_000 });
    expect(set.config.apps[0]!.max_buffered_bytes).toBe(65_536);

    const bad = await loadConfig({
      cwd: scratch(),
      env: { ...CREDENTIALS, REVERB_MAX_OPEN_FILES_RESERVE: "-1", REVERB_APP_MAX_BUFFERED_BYTES: "100" },
    });
    expect(bad.ok ? [] : bad.errors).toEqual([
      "REVERB_MAX_OPEN_FILES_RESERVE: must be at least 0 (got -1)",
      "REVERB_APP_MAX_BUFFERED_BYTES: must be at least 1024 (got 100)",
    ]);
  });

  test("webhooks: soketi's shape in the config file, the env app's one URL, and errors naming the key", async () => {
    const cwd = scratch({
      "hooks.json": JSON.stringify({
        apps: [
          {
            app_id: "1",
            key: "k",
            secret: "s",
            webhooks: [
              { url: "https://example.test/hooks", event_types: ["channel_occupied"], filter: { channel_name_starts_with: "private-" }, headers: { "X-Tenant": "a" } },
            ],
          },
        ],
      }),
      "bad.json": JSON.stringify({
        apps: [{ app_id: "1", key: "k", secret: "s", webhooks: [{ url: "ftp://x", event_types: ["channel_occupied", "typo"] }, { event_types: [] }, { url: "http://127.0.0.1/", headers: { "Bad Name": "x", "X-Ok": "a\r\nInjected: 1" } }] }],
      }),
    });
    const good = await loadConfig({ cwd, env: {}, configPath: "hooks.json" });
    if (!good.ok) throw new Error(good.errors.join("\n"));
    expect(good.config.apps[0]!.webhooks).toEqual([
      {
        url: "https://example.test/hooks",
        event_types: ["channel_occupied"],
        filter: { channel_name_starts_with: "private-", channel_name_ends_with: null },
        headers: { "X-Tenant": "a" },
        batching: null,
      },
    ]);
    expect(good.config.server.webhooks).toEqual({ request_timeout: 5000, retry_window: 300_000, max_queue: 10_000, batching: { enabled: false, duration: 50, max_events: 100 } });

    const bad = await loadConfig({ cwd, env: {}, configPath: "bad.json" });
    expect(bad.ok ? [] : bad.errors).toEqual([
      "bad.json: apps.0.webhooks.0.url: must be an http:// or https:// URL (got \"ftp://x\")",
      `bad.json: apps.0.webhooks.0.event_types.1: must each be one of channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss, subscription_count (got "typo")`,
      "bad.json: apps.0.webhooks.1.url: is required",
      "bad.json: apps.0.webhooks.2.headers.Bad Name: must be valid header names",
      "bad.json: apps.0.webhooks.2.headers.X-Ok: must not contain line breaks",
    ]);

    const fromEnv = await loadConfig({ cwd: scratch(), env: { ...CREDENTIALS, REVERB_APP_WEBHOOK_URL: "http://127.0.0.1:9/hooks", REVERB_APP_WEBHOOK_EVENTS: "member_added, member_removed" } });
    if (!fromEnv.ok) throw new Error(fromEnv.errors.join("\n"));
    expect(fromEnv.config.apps[0]!.webhooks.map((hook) => [hook.url, hook.event_types])).toEqual([["http://127.0.0.1:9/hooks", ["member_added", "member_removed"]]]);
    const allTypes = await loadConfig({ cwd: scratch(), env: { ...CREDENTIALS, REVERB_APP_WEBHOOK_URL: "http://127.0.0.1:9/hooks" } });
    expect(allTypes.ok && allTypes.config.apps[0]!.webhooks[0]!.event_types).toHaveLength(7);
    const badEnv = await loadConfig({ cwd: scratch(), env: { ...CREDENTIALS, REVERB_APP_WEBHOOK_URL: "nope", REVERB_APP_WEBHOOK_EVENTS: "vacated", REVERB_WEBHOOKS_REQUEST_TIMEOUT: "5" } });
    expect(badEnv.ok ? [] : badEnv.errors).toEqual([
      "REVERB_WEBHOOKS_REQUEST_TIMEOUT: must be at least 100 (got 5)",
      'REVERB_APP_WEBHOOK_URL: must be an http:// or https:// URL (got "nope")',
      `REVERB_APP_WEBHOOK_EVENTS: must each be one of channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss, subscription_count (got "vacated")`,
    ]);
  });
});
