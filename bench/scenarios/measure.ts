import { sleep } from "../lib/clock.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import { emptyHistogram, merge } from "../lib/histogram.ts";
import { cpuSince, markCpu, treeCpu } from "../lib/procfs.ts";
import type { OpenParams, OpenResult, Snapshot } from "../lib/protocol.ts";
import type { Target } from "../lib/targets.ts";

/** Generous: a call only waits this long if a generator is stuck, and then the run fails. */
export const CALL_TIMEOUT_MS = 120_000;
/** The load keeps running this long past the window so the last snapshot sees steady state. */
export const LOAD_TAIL_MS = 500;

/** Every generator's window summed: one view of the whole load. */
export interface Combined extends Snapshot {
  /** Busiest generator's CPU as a fraction of one core: near 1 means the load, not the server, was the limit. */
  generatorCpuMax: number;
}

export interface Window {
  load: Combined;
  /** Snapshots of the generators passed as `only`, when a metric needs just those (e.g. the publisher). */
  parts: Snapshot[];
  serverCpuSeconds: number;
  /** CPU seconds of each of `others` (a fleet's node A and Redis) over the same window. */
  othersCpuSeconds: number[];
  wallSeconds: number;
  /**
   * The server's CPU seconds per process when it is a tree (`ours-wN`): the primary first, then
   * the workers in pid order (their start order, so worker 0 first). Empty for one process.
   */
  split: number[];
}

/** Per-process CPU of a server tree over a window: primary, then workers by pid. */
export function splitSince(before: Map<number, number>, after: Map<number, number>, root: number): number[] {
  if (after.size <= 1) return [];
  const pids = [root, ...[...after.keys()].filter((pid) => pid !== root).sort((a, b) => a - b)];
  return pids.map((pid) => (after.get(pid) ?? 0) - (before.get(pid) ?? 0));
}

export function combine(snapshots: Snapshot[]): Combined {
  const combined: Combined = {
    received: 0,
    latency: emptyHistogram(),
    sent: 0,
    failed: 0,
    requestLatency: emptyHistogram(),
    otherFrames: 0,
    cpuSeconds: 0,
    wallSeconds: 0,
    closed: 0,
    firstError: null,
    lastDeliveredAt: 0,
    lastCompletedAt: 0,
    generatorCpuMax: 0,
  };
  for (const snapshot of snapshots) {
    combined.received += snapshot.received;
    merge(combined.latency, snapshot.latency);
    combined.sent += snapshot.sent;
    combined.failed += snapshot.failed;
    merge(combined.requestLatency, snapshot.requestLatency);
    combined.otherFrames += snapshot.otherFrames;
    combined.cpuSeconds += snapshot.cpuSeconds;
    combined.wallSeconds = Math.max(combined.wallSeconds, snapshot.wallSeconds);
    combined.closed += snapshot.closed;
    combined.firstError ??= snapshot.firstError;
    combined.lastDeliveredAt = Math.max(combined.lastDeliveredAt, snapshot.lastDeliveredAt);
    combined.lastCompletedAt = Math.max(combined.lastCompletedAt, snapshot.lastCompletedAt);
    combined.generatorCpuMax = Math.max(combined.generatorCpuMax, snapshot.cpuSeconds / snapshot.wallSeconds);
  }
  return combined;
}

/**
 * Waits out the warm-up, marks every generator and the server's CPU together, waits the window,
 * and reads everything back. The load must already be running and last past the window. The CPU
 * of `others` (pids besides the server's) is read over the same window.
 */
export async function measure(
  target: Target,
  generators: GeneratorHandle[],
  warmupMs: number,
  durationMs: number,
  others: number[] = [],
): Promise<Window> {
  await sleep(warmupMs);
  await Promise.all(generators.map((generator) => generator.call("mark", null, CALL_TIMEOUT_MS)));
  const mark = markCpu(target.pid);
  const treeMark = treeCpu(target.pid);
  const otherMarks = others.map(markCpu);
  await sleep(durationMs);
  const server = cpuSince(target.pid, mark);
  const split = splitSince(treeMark, treeCpu(target.pid), target.pid);
  const othersCpuSeconds = others.map((pid, i) => cpuSince(pid, otherMarks[i]!).cpuSeconds);
  const parts = await Promise.all(generators.map((generator) => generator.call("snapshot", null, CALL_TIMEOUT_MS)));
  return { load: combine(parts), parts, serverCpuSeconds: server.cpuSeconds, othersCpuSeconds, wallSeconds: server.wallSeconds, split };
}

/** `total` split into `parts` near-equal counts with their global offsets. */
export function split(total: number, parts: number): Array<{ count: number; offset: number }> {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  const shares: Array<{ count: number; offset: number }> = [];
  let offset = 0;
  for (let i = 0; i < parts; i++) {
    const count = base + (i < extra ? 1 : 0);
    shares.push({ count, offset });
    offset += count;
  }
  return shares.filter((share) => share.count > 0);
}

/** Opens sockets on each generator in parallel and fails the run if any could not connect. */
export async function openAll(
  generators: GeneratorHandle[],
  total: number,
  params: Omit<OpenParams, "count" | "offset">,
): Promise<OpenResult[]> {
  const shares = split(total, generators.length);
  const results = await Promise.all(
    shares.map((share, i) => generators[i]!.call("open", { ...params, ...share }, CALL_TIMEOUT_MS)),
  );
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  if (failed > 0) {
    const first = results.find((result) => result.firstError)?.firstError;
    throw new Error(`${failed} of ${total} sockets failed to open/subscribe: ${first}`);
  }
  return results;
}
