import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";

/** Files kept for the listening socket, Redis, logs and the runtime itself. */
const RESERVED_FILES = 100;

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

/**
 * Lines to print at start about capacity: every WebSocket holds one open file, so the open-files
 * limit caps connections whatever the memory. Warns when the configured apps need more.
 */
export function capacityReport(config: Config, limit: number | null): { info: string[]; warnings: string[] } {
  const info: string[] = [];
  const warnings: string[] = [];
  for (const app of config.apps) {
    info.push(
      `App ${app.app_id} limits: max_connections ${app.max_connections ?? "unlimited"}, max_message_size ${app.max_message_size || "unlimited"} bytes, ` +
        `ping_interval ${app.ping_interval} s, client events from ${app.accept_client_events_from}, ` +
        `rate limit ${app.rate_limiting.enabled ? `${app.rate_limiting.max_attempts} per ${app.rate_limiting.decay_seconds} s` : "off"}`,
    );
  }
  if (limit === null) return { info, warnings };
  const room = Math.max(limit - RESERVED_FILES, 0);
  info.push(`Open files limit (ulimit -n) ${limit}: room for about ${room} connections`);
  const caps = config.apps.map((app) => app.max_connections);
  const wanted = caps.every((cap) => cap !== null) ? caps.reduce((sum, cap) => sum + cap!, 0) : null;
  if (wanted !== null && wanted > room) {
    warnings.push(`max_connections add up to ${wanted} but the open-files limit leaves room for ${room}: raise ulimit -n (see docs/production.md)`);
  } else if (wanted === null && limit < 10_000) {
    warnings.push(`the open-files limit ${limit} caps this server at about ${room} connections: raise ulimit -n for production (see docs/production.md)`);
  }
  return { info, warnings };
}
