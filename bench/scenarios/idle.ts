import { sleep } from "../lib/clock.ts";
import { cpuSince, markCpu, rssKb } from "../lib/procfs.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, combine, openAll } from "./measure.ts";
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
export const idle: Scenario = {
  name: "idle",
  title: "Idle capacity",
  describe: (o) => `${o.idle} connections from ${o.idleProcs} generators, each subscribed to its own private channel, then held`,

  async run({ target, options, generator }) {
    const holders = Array.from({ length: options.idleProcs }, (_, i) => generator(`idle${i}`));
    await sleep(BASELINE_SETTLE_MS);
    const baselineKb = rssKb(target.pid);
    const connectMark = markCpu(target.pid);
    const opened = await openAll(holders, options.idle, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: "private-user-", groupSize: 1 },
      credentials: CREDENTIALS,
      timeoutMs: 15_000,
    });
    const connect = cpuSince(target.pid, connectMark);
    const rampSeconds = Math.max(...opened.map((result) => result.totalSeconds));
    const rampGeneratorCpu = Math.max(...opened.map((result) => result.cpuSeconds / result.totalSeconds));

    await sleep(SETTLE_MS);
    await Promise.all(holders.map((holder) => holder.call("mark", null, CALL_TIMEOUT_MS)));
    const holdMark = markCpu(target.pid);
    await sleep(options.durationMs);
    const hold = cpuSince(target.pid, holdMark);
    const heldKb = rssKb(target.pid);
    const load = combine(await Promise.all(holders.map((holder) => holder.call("snapshot", null, CALL_TIMEOUT_MS))));

    const held = options.idle - load.closed;
    const kbPerConnection = (heldKb - baselineKb) / held;
    const cpuMsPerConnect = (connect.cpuSeconds / options.idle) * 1000;
    return {
      metrics: [
        metric("connectionsHeld", "connections held", "", held, "higher"),
        metric("kbPerConnection", "RSS per connection", "KB", kbPerConnection, "lower"),
        metric("rssMb", "server RSS while holding", "MB", heldKb / 1024, "lower"),
        metric("connectsPerSec", "connect + subscribe rate", "/s", options.idle / rampSeconds, "higher"),
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
