/**
 * Our server or the ceiling, in this process, plus a probe: on SIGUSR2 it runs a full GC and
 * writes RSS, JS heap and per-type object counts to $MEMSTATS_FILE. For memory.ts.
 *
 *   MEMORY_VARIANT=ours|ceiling MEMSTATS_FILE=/tmp/x.json bun bench/experiments/memory-server.ts --port 0
 */
import { heapStats } from "bun:jsc";
import { writeFileSync } from "node:fs";
import * as v from "valibot";
import { ConfigSchema } from "../../src/config/schema.ts";
import { createLogger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { rssKb } from "../lib/procfs.ts";

export interface MemStats {
  rssBeforeGcKb: number;
  rssAfterGcKb: number;
  heapSize: number;
  /** Bytes JSC holds for its heap, live or not: size plus block slack. */
  heapCapacity: number;
  extraMemorySize: number;
  objectCount: number;
  objectTypeCounts: Record<string, number>;
}

const statsFile = process.env.MEMSTATS_FILE!;
if (process.env.MEMORY_VARIANT === "ceiling") {
  await import("../ceiling.ts");
} else {
  const config = v.parse(ConfigSchema, {
    server: { host: "127.0.0.1", port: 0 },
    apps: [{ app_id: CREDENTIALS.appId, key: CREDENTIALS.key, secret: CREDENTIALS.secret, accept_client_events_from: "members", max_message_size: 100_000 }],
  });
  const server = startServer(config, createLogger({ debug: false, quiet: true }));
  console.log(`Starting server on 127.0.0.1:${server.port}`);
  process.once("SIGTERM", () => process.exit(0));
}

process.on("SIGUSR2", () => {
  const rssBeforeGcKb = rssKb(process.pid);
  Bun.gc(true);
  const heap = heapStats();
  const stats: MemStats = {
    rssBeforeGcKb,
    rssAfterGcKb: rssKb(process.pid),
    heapSize: heap.heapSize,
    heapCapacity: heap.heapCapacity,
    extraMemorySize: heap.extraMemorySize,
    objectCount: heap.objectCount,
    objectTypeCounts: heap.objectTypeCounts,
  };
  writeFileSync(statsFile, JSON.stringify(stats));
});
