import { sleep } from "../lib/clock.ts";
import { readdirSync, readlinkSync } from "node:fs";
import { cpuSince, markCpu, rssKb, treePids } from "../lib/procfs.ts";
import { IDLE_PER_SERVER_PROCESS } from "../lib/flags.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import type { OpenResult } from "../lib/protocol.ts";
import { CREDENTIALS, type Target } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, combine, split } from "./measure.ts";
import { loadNotes, metric } from "./metrics.ts";
import type { Scenario } from "./types.ts";

/** Lets the server finish start-up work before the baseline RSS is read. */
const BASELINE_SETTLE_MS = 500;
/** Lets allocator and GC settle after the ramp before memory is read. */
const SETTLE_MS = 2_000;
const MILLION = 1_000_000;

/**
 * Idle capacity: many connections, each on its own private channel (the usual Echo user
 * channel), then held quietly. One generator can hold only ~19.9k sockets (20k fds per process),
 * so the load is spread over several.
 */
/** Open sockets of a process (its fds that are sockets): where the kernel put the connections. */
function socketsOf(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** Connections this target is given: `--idle`, at most 19,500 per serving process. */
export function idleCount(requested: number, target: Pick<Target, "processes">): number {
  return Math.min(requested, IDLE_PER_SERVER_PROCESS * (target.processes ?? 1));
}

/**
 * Generator i connects to 127.0.0.(i+1) when the server listens on every address: one source and
 * destination pair has only ~28k ephemeral ports, and Bun's WebSocket cannot bind a source address.
 */
export function destinationFor(target: Target, generatorIndex: number): string {
  return target.anyLoopback ? target.wsUrl.replace("//127.0.0.1:", `//127.0.0.${generatorIndex + 1}:`) : target.wsUrl;
}

async function openSpread(target: Target, holders: GeneratorHandle[], total: number): Promise<OpenResult[]> {
  const shares = split(total, holders.length);
  const results = await Promise.all(
    shares.map((share, i) =>
      holders[i]!.call(
        "open",
        {
          wsUrl: destinationFor(target, i),
          ...share,
          concurrency: 100,
          channel: { prefix: "private-user-", groupSize: 1 },
          credentials: CREDENTIALS,
          timeoutMs: 15_000,
        },
        CALL_TIMEOUT_MS,
      ),
    ),
  );
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  if (failed > 0) {
    const first = results.find((result) => result.firstError)?.firstError;
    throw new Error(`${failed} of ${total} sockets failed to open/subscribe: ${first}`);
  }
  return results;
}

export const idle: Scenario = {
  name: "idle",
  title: "Idle capacity",
  describe: (o) =>
    `${o.idle} connections (at most ${IDLE_PER_SERVER_PROCESS.toLocaleString("en-US")} per server process) from ${o.idleProcs} generators, each subscribed to its own private channel, then held`,

  async run({ target, options, generator }) {
    const holders = Array.from({ length: options.idleProcs }, (_, i) => generator(`idle${i}`));
    const count = idleCount(options.idle, target);
    if (count / holders.length > 19_000) throw new Error(`${count} connections over ${holders.length} generators is more than 19,000 each: raise --idle-procs`);
    await sleep(BASELINE_SETTLE_MS);
    const baselineKb = rssKb(target.pid);
    const connectMark = markCpu(target.pid);
    const opened = await openSpread(target, holders, count);
    const connect = cpuSince(target.pid, connectMark);
    const rampSeconds = Math.max(...opened.map((result) => result.totalSeconds));
    const rampGeneratorCpu = Math.max(...opened.map((result) => result.cpuSeconds / result.totalSeconds));

    await sleep(SETTLE_MS);
    await Promise.all(holders.map((holder) => holder.call("mark", null, CALL_TIMEOUT_MS)));
    const holdMark = markCpu(target.pid);
    await sleep(options.durationMs);
    const hold = cpuSince(target.pid, holdMark);
    const heldKb = rssKb(target.pid);
    const workers = treePids(target.pid).slice(1).sort((a, b) => a - b);
    const perWorker = workers.length > 1 ? workers.map(socketsOf) : [];
    const load = combine(await Promise.all(holders.map((holder) => holder.call("snapshot", null, CALL_TIMEOUT_MS))));

    const held = count - load.closed;
    const kbPerConnection = (heldKb - baselineKb) / held;
    const cpuMsPerConnect = (connect.cpuSeconds / count) * 1000;
    const processes = target.processes ?? 1;
    return {
      metrics: [
        metric("connectionsHeld", "connections held", "", held, "higher"),
        metric("kbPerConnection", "RSS per connection", "KB", kbPerConnection, "lower"),
        metric("rssMb", "server RSS while holding", "MB", heldKb / 1024, "lower"),
        metric("connectionsPerProcess", "connections per serving process", "", held / processes, null),
        ...perWorker.map((sockets, i) => metric(`worker${i}Sockets`, `sockets open in worker ${i} (fds)`, "", sockets, null)),
        metric("baselineRssMb", "server RSS before the ramp (all its processes)", "MB", baselineKb / 1024, null),
        metric("connectsPerSec", "connect + subscribe rate", "/s", count / rampSeconds, "higher"),
        metric("cpuMsPerConnect", "server CPU per connect + subscribe", "ms", cpuMsPerConnect, "lower"),
        metric("rampServerCpuPct", "server CPU during the ramp", "% of a core", (connect.cpuSeconds / connect.wallSeconds) * 100, null),
        metric("rampGeneratorCpuPct", "busiest generator CPU during the ramp", "% of a core", rampGeneratorCpu * 100, null),
        metric("idleCpuPct", "server CPU while holding", "% of a core", (hold.cpuSeconds / hold.wallSeconds) * 100, "lower"),
        metric("projectedGbAt1M", "projected RSS at 1M connections", "GiB", (kbPerConnection * MILLION) / 1024 / 1024, "lower"),
        metric("projectedConnectCpuAt1M", "projected CPU to connect 1M", "CPU-s", (cpuMsPerConnect * MILLION) / 1000, "lower"),
      ],
      notes: loadNotes(load),
    };
  },
};
