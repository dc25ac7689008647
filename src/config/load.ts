import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { randomBytes, randomInt } from "node:crypto";
import * as v from "valibot";
import { ConfigSchema, type Config } from "./schema.ts";
import { APP_ENV, APP_WEBHOOK_ENV, SERVER_ENV, fromEnv, hasAnyAppCredential, parseDotEnv, type Env } from "./env.ts";
import { certificateDirectories, discoverTls, type TlsDiscovery } from "./tls.ts";

export interface LoadOptions {
  cwd: string;
  env: Env;
  /** A JSON or TS file with `apps` (and optionally `server`). */
  configPath?: string | undefined;
  /** CLI flags; they win over everything else. */
  overrides?: Record<string, unknown>;
  /** `--tls`: whether to insist on, or skip, a Herd/Valet certificate for the hostname. */
  tls?: TlsDiscovery | undefined;
}

export type LoadResult =
  | { ok: true; config: Config; generatedApp: boolean }
  | { ok: false; errors: string[] };

/** Where a config path came from, to name the variable or file key in an error. */
type Origins = Map<string, string>;

function lowercaseAlphanumerics(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join("");
}

/** Credentials in the shape `reverb:install` writes them. */
export function generateAppCredentials(): { app_id: string; key: string; secret: string } {
  return { app_id: String(randomInt(100_000, 1_000_000)), key: lowercaseAlphanumerics(20), secret: lowercaseAlphanumerics(20) };
}

async function readConfigFile(path: string): Promise<unknown> {
  if (/\.[cm]?[jt]s$/.test(path)) {
    const module = (await import(path)) as { default?: unknown };
    return module.default ?? module;
  }
  return JSON.parse(readFileSync(path, "utf8"));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function mergeDeep(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    target[key] = isRecord(existing) && isRecord(value) ? mergeDeep(existing, value) : value;
  }
  return target;
}

function describe(issue: v.BaseIssue<unknown>, origins: Origins, configPath: string | undefined): string {
  const path = v.getDotPath(issue) ?? "";
  // An item of a list set by one variable (`a,b`) is reported under that variable.
  const origin = origins.get(path) ?? origins.get(path.replace(/\.\d+$/, ""));
  const name = origin ?? (configPath ? `${configPath}: ${path || "(root)"}` : path || "config");
  // Secrets, and webhook header values (often a token), are never echoed.
  const shown = issue.received && !["undefined", "Object", "Array"].includes(issue.received) && !/secret|passphrase|password|headers\./.test(path);
  const received = shown ? ` (got ${issue.received})` : "";
  const message = issue.received === "undefined" ? "is required" : issue.message;
  return `${name}: ${message}${received}`;
}

/**
 * Builds the configuration: defaults, then the config file, then the environment (with `.env`
 * under it), then CLI flags. Apps come from the config file when it lists them, otherwise from
 * `REVERB_APP_*`; with neither, a development app is generated. With no certificate configured,
 * one Herd or Valet made for the hostname may be served (see tls.ts).
 */
export async function loadConfig(options: LoadOptions): Promise<LoadResult> {
  const dotEnvPath = resolve(options.cwd, ".env");
  const env: Env = { ...(existsSync(dotEnvPath) ? parseDotEnv(readFileSync(dotEnvPath, "utf8")) : {}), ...options.env };
  const origins: Origins = new Map();

  let file: Record<string, unknown> = {};
  const configPath = options.configPath ? resolve(options.cwd, options.configPath) : undefined;
  if (configPath) {
    try {
      const loaded = await readConfigFile(configPath);
      if (!isRecord(loaded)) {
        return { ok: false, errors: [`${options.configPath}: must hold an object with an "apps" list`] };
      }
      file = loaded as Record<string, unknown>;
    } catch (error) {
      return { ok: false, errors: [`${options.configPath}: cannot be read: ${(error as Error).message}`] };
    }
  }

  const server = mergeDeep(structuredClone((file.server as Record<string, unknown> | undefined) ?? {}), fromEnv(env, SERVER_ENV));
  for (const [path, name] of Object.entries(SERVER_ENV)) {
    if (env[name] !== undefined && env[name] !== "") origins.set(`server.${path}`, name);
  }
  // A certificate without its key (or the reverse) from the environment names the missing variable.
  if (!isRecord(file.server) || file.server.tls === undefined) {
    origins.set("server.tls.cert", SERVER_ENV["tls.cert"]);
    origins.set("server.tls.key", SERVER_ENV["tls.key"]);
  }
  // Laravel's Redis client puts REDIS_PREFIX before pub/sub channels too (Reverb #305).
  const redisPrefix = env.REDIS_PREFIX;
  const scaling = isRecord(server.scaling) ? server.scaling : (server.scaling = {});
  if (redisPrefix && (scaling as Record<string, unknown>).prefix === undefined) {
    (scaling as Record<string, unknown>).prefix = redisPrefix;
    origins.set("server.scaling.prefix", "REDIS_PREFIX");
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    server[key] = value;
    origins.set(`server.${key}`, `--${key}`);
  }

  let apps = file.apps;
  let generatedApp = false;
  if (apps === undefined) {
    if (hasAnyAppCredential(env)) {
      const url = env[APP_WEBHOOK_ENV["webhooks.0.url"]];
      const events = env[APP_WEBHOOK_ENV["webhooks.0.event_types"]];
      const webhooks = url ? [events ? { url, event_types: events } : { url }] : [];
      apps = [{ accept_client_events_from: "members", ...fromEnv(env, APP_ENV), webhooks }];
      for (const [path, name] of Object.entries({ ...APP_ENV, ...APP_WEBHOOK_ENV })) origins.set(`apps.0.${path}`, name);
    } else {
      apps = [{ ...generateAppCredentials(), accept_client_events_from: "members" }];
      generatedApp = true;
    }
  }

  const result = v.safeParse(ConfigSchema, { server, apps });
  if (!result.success) {
    return { ok: false, errors: result.issues.map((issue) => describe(issue, origins, options.configPath)) };
  }
  const config = result.output;
  if (config.server.tls === null) {
    const discovery = discoverTls({
      hostname: config.server.hostname,
      hostnameOrigin: origins.get("server.hostname") ?? "server.hostname",
      hostnameFromFlag: options.overrides?.hostname !== undefined,
      mode: options.tls,
      directories: certificateDirectories(homedir(), process.platform),
    });
    if (!discovery.ok) return { ok: false, errors: [discovery.error] };
    if (discovery.tls) config.server.tls = { ...discovery.tls, ca: null, passphrase: null };
  }
  return { ok: true, config, generatedApp };
}
