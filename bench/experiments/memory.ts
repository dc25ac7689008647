/**
 * Where idle connections' memory goes, ours vs the ceiling: opens N connections (each on its
 * own private channel, as the idle scenario does), then compares RSS before and after a forced
 * full GC, JS heap size, and which JS object types grew per connection.
 *
 *   npx bun bench/experiments/memory.ts [--connections 10000]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Children } from "../lib/children.ts";
import { sleep } from "../lib/clock.ts";
import { GeneratorHandle } from "../lib/generator-handle.ts";
import { rssKb } from "../lib/procfs.ts";
import { CREDENTIALS, startServerProcess, type Target } from "../lib/targets.ts";
import { openAll } from "../scenarios/measure.ts";
import type { MemStats } from "./memory-server.ts";

const SERVER = fileURLToPath(new URL("./memory-server.ts", import.meta.url));
const { values } = parseArgs({ options: { connections: { type: "string", default: "10000" } } });
const connections = Number(values.connections);
const dir = mkdtempSync(join(tmpdir(), "reverb-uws-memory-"));

async function probe(target: Target, file: string): Promise<MemStats> {
  rmSync(file, { force: true });
  process.kill(target.pid, "SIGUSR2");
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(50);
  await sleep(50);
  return JSON.parse(readFileSync(file, "utf8")) as MemStats;
}

const children = new Children();
const rows: string[] = [];
try {
  for (const variant of ["ours", "ceiling"]) {
    const file = join(dir, `${variant}.json`);
    const target = await startServerProcess(variant, [process.execPath, SERVER, "--port", "0"], children, () => {}, {
      MEMORY_VARIANT: variant,
      MEMSTATS_FILE: file,
    });
    const generators = [0, 1].map((i) => new GeneratorHandle(`memory-${variant}-${i}`, children));
    try {
      await sleep(500);
      const before = await probe(target, file);
      await openAll(generators, connections, {
        wsUrl: target.wsUrl,
        concurrency: 100,
        channel: { prefix: "private-user-", groupSize: 1 },
        credentials: CREDENTIALS,
        timeoutMs: 15_000,
      });
      await sleep(2000);
      const rssHeld = rssKb(target.pid);
      const after = await probe(target, file);
      const per = (bytes: number) => (bytes / connections).toFixed(0);
      rows.push(
        `| ${variant} | ${(((rssHeld - before.rssAfterGcKb) * 1024) / connections).toFixed(0)} | ${per((after.rssAfterGcKb - before.rssAfterGcKb) * 1024)} | ${per(after.heapSize - before.heapSize)} | ${per(after.heapCapacity - before.heapCapacity)} | ${per(after.extraMemorySize - before.extraMemorySize)} | ${((after.objectCount - before.objectCount) / connections).toFixed(1)} |`,
      );
      const grown = Object.entries(after.objectTypeCounts)
        .map(([type, count]) => [type, (count - (before.objectTypeCounts[type] ?? 0)) / connections] as const)
        .filter(([, perConnection]) => perConnection >= 0.5)
        .sort((a, b) => b[1] - a[1]);
      console.log(`${variant}: JS objects per connection by type: ${grown.map(([type, n]) => `${type} ${n.toFixed(1)}`).join(", ")}`);
    } finally {
      await target.stop();
      await Promise.all(generators.map((generator) => children.stop(generator.process)));
    }
  }
} finally {
  await children.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${connections} connections, bytes per connection:\n`);
console.log("| server | RSS delta (no GC) | RSS delta after full GC | JS heap (live) | JS heap capacity | JS extra memory | JS objects |\n|---|--:|--:|--:|--:|--:|--:|");
console.log(rows.join("\n"));
