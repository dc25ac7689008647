import { quantileMs } from "../lib/histogram.ts";
import type { Combined, Window } from "./measure.ts";
import type { Metric } from "./types.ts";

/** Builders for the metrics several scenarios share, so the same key means the same thing. */

export function metric(key: string, label: string, unit: string, value: number, better: Metric["better"]): Metric {
  return { key, label, unit, value, better };
}

export function latency(prefix: string, label: string, histogram: number[]): Metric[] {
  return [
    metric(`${prefix}P50Ms`, `${label} p50`, "ms", quantileMs(histogram, 0.5), "lower"),
    metric(`${prefix}P99Ms`, `${label} p99`, "ms", quantileMs(histogram, 0.99), "lower"),
  ];
}

export function serverCpu(window: Window, work: number, workLabel: string): Metric[] {
  return [
    metric("serverCpuPct", "server CPU (all its processes)", "% of a core", (window.serverCpuSeconds / window.wallSeconds) * 100, "lower"),
    metric("cpuPerMillion", `server CPU per 1M ${workLabel}`, "CPU-s", work > 0 ? window.serverCpuSeconds / (work / 1e6) : Number.NaN, "lower"),
    ...cpuSplit(window),
  ];
}

/** `ours-wN`: where the server's CPU went, primary and each worker (pid order: worker 0 first). */
export function cpuSplit(window: Window): Metric[] {
  return window.split.map((seconds, i) =>
    metric(i === 0 ? "primaryCpuPct" : `worker${i - 1}CpuPct`, i === 0 ? "… of it the primary" : `… of it worker ${i - 1}`, "% of a core", (seconds / window.wallSeconds) * 100, null),
  );
}

export function generatorCpu(load: Combined): Metric {
  return metric("generatorCpuMaxPct", "busiest generator CPU", "% of a core", load.generatorCpuMax * 100, null);
}

/** Every generator together: with the server's, how the 2 shared cores were split. */
export function generatorsCpu(load: Combined): Metric {
  return metric("generatorsCpuPct", "all generators CPU", "% of a core", load.wallSeconds > 0 ? (load.cpuSeconds / load.wallSeconds) * 100 : Number.NaN, null);
}

/** Notes that qualify a window: failures, lost sockets, a generator that was the bottleneck. */
export function loadNotes(load: Combined): string[] {
  const notes: string[] = [];
  if (load.failed > 0) notes.push(`${load.failed} request(s)/join(s) failed, first: ${load.firstError}`);
  if (load.closed > 0) notes.push(`${load.closed} socket(s) closed by the server during the window`);
  if (load.generatorCpuMax > 0.9) {
    notes.push(`a generator used ${(load.generatorCpuMax * 100).toFixed(0)}% of a core: the load may be client-bound`);
  }
  return notes;
}
