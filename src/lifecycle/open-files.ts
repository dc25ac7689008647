import { readFileSync, readdirSync } from "node:fs";
import type { Config } from "../config/schema.ts";

/** The default reserve: this share of the limit, and never fewer than the floor. */
const DEFAULT_RESERVE_SHARE = 0.02;
const DEFAULT_RESERVE_FLOOR = 32;

/** The soft `ulimit -n` of this process, from /proc; null where /proc is not there. */
export function openFilesLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((row) => row.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? null : Number(soft);
  } catch {
    return null;
  }
}

/** Files this process has open now; null where /proc is not there. Reads a directory: not per request. */
export function openFilesNow(): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

/** Open files kept free below the limit: `max_open_files_reserve`, or 2% of the limit (at least 32). */
export function openFilesReserve(limit: number, configured: number | null): number {
  return Math.min(configured ?? Math.max(Math.ceil(limit * DEFAULT_RESERVE_SHARE), DEFAULT_RESERVE_FLOOR), limit);
}

/**
 * Lines to print at start about capacity: every WebSocket holds one open file, so the open-files
 * limit caps connections whatever the memory. Warns when the configured apps need more.
 */
export function capacityReport(config: Config, limit: number | null, inUse: number | null = null, workers = 1): { info: string[]; warnings: string[] } {
  const info: string[] = [];
  const warnings: string[] = [];
  for (const app of config.apps) {
    info.push(
      `App ${app.app_id} limits: max_connections ${app.max_connections ?? "unlimited"}, max_message_size ${app.max_message_size || "unlimited"} bytes, ` +
        `ping_interval ${app.ping_interval} s, client events from ${app.accept_client_events_from}, ` +
        `rate limit ${app.rate_limiting.enabled ? `${app.rate_limiting.max_attempts} per ${app.rate_limiting.decay_seconds} s` : "off"}, ` +
        `max_channels_per_connection ${app.max_channels_per_connection ?? "unlimited"}, max_presence_members ${app.max_presence_members ?? "unlimited"}, ` +
        `max_presence_member_size ${app.max_presence_member_size ?? "unlimited"}, max_channel_name_length ${app.max_channel_name_length ?? "unlimited"}, ` +
        `max_event_name_length ${app.max_event_name_length ?? "unlimited"}, max_buffered_bytes ${app.max_buffered_bytes}, ` +
        `user_authentication_timeout ${app.user_authentication_timeout === null ? "off" : `${app.user_authentication_timeout} s`}, ` +
        `subscription_count ${app.subscription_count ? "on" : "off"}`,
    );
  }
  if (limit === null) return { info, warnings };
  const reserve = openFilesReserve(limit, config.server.max_open_files_reserve);
  // Each worker is a process with a limit of its own.
  const perProcess = Math.max(limit - reserve - (inUse ?? 0), 0);
  const room = perProcess * workers;
  const box = workers > 1 ? ` per process, ${room} for the ${workers} workers` : "";
  info.push(`Open files limit (ulimit -n) ${limit}: room for about ${perProcess} connections${box} (${reserve} kept in reserve)`);
  const caps = config.apps.map((app) => app.max_connections);
  const wanted = caps.every((cap) => cap !== null) ? caps.reduce((sum, cap) => sum + cap!, 0) : null;
  if (wanted !== null && wanted > room) {
    warnings.push(`max_connections add up to ${wanted} but the open-files limit leaves room for ${room}: raise ulimit -n (see docs/production.md)`);
  } else if (wanted === null && limit < 10_000) {
    warnings.push(`the open-files limit ${limit} caps this server at about ${room} connections: raise ulimit -n for production (see docs/production.md)`);
  }
  return { info, warnings };
}
