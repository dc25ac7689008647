import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import type { BenchOptions } from "./flags.ts";
import type { Comparison, ScenarioOutcome, TargetCheck } from "./report.ts";
import { ratioOf } from "./report.ts";

export interface Machine {
  nproc: number;
  memoryGiB: number;
  bun: string;
  kernel: string;
  /** 1, 5 and 15 minute load averages: this box is shared, so say how busy it was. */
  loadAverage: string[];
}

export function machine(): Machine {
  return {
    nproc: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    bun: Bun.version,
    kernel: release(),
    loadAverage: loadavg().map((value) => value.toFixed(2)),
  };
}

export function commit(): string {
  const result = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stdout: "pipe", stderr: "ignore" });
  return result.success ? result.stdout.toString().trim() : "unknown";
}

/** Writes bench/results/<timestamp>.json (gitignored) and returns its path. */
export function writeResults(options: BenchOptions, outcomes: ScenarioOutcome[], checks: TargetCheck[], startedAt: Date, atStart: Machine): string {
  mkdirSync(options.outDir, { recursive: true });
  const path = join(options.outDir, `${startedAt.toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z")}.json`);
  const scenarios = outcomes.map((outcome) => {
    const keys = new Set(Object.values(outcome.runs).flatMap((run) => (run && "metrics" in run ? run.metrics.map((m) => m.key) : [])));
    const ratios = (pair: Comparison) => Object.fromEntries([...keys].map((key) => [key, ratioOf(outcome, key, pair)]));
    return {
      ...outcome,
      ratios: ratios(["ours", "ceiling"]),
      ratiosBy: Object.fromEntries(outcome.comparisons.map((pair) => [`${pair[0]}/${pair[1]}`, ratios(pair)])),
    };
  });
  writeFileSync(
    path,
    `${JSON.stringify({ date: startedAt.toISOString(), machine: atStart, loadAverageAtEnd: machine().loadAverage, commit: commit(), options, scenarios, targets: checks }, null, 2)}\n`,
  );
  return path;
}
