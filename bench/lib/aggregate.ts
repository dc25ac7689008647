import type { Metric } from "../scenarios/types.ts";
import type { RunOutcome } from "./report.ts";

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Repetitions of one scenario against one target folded into one result: the median of each
 * metric over the runs that worked (the mean when there are two), every note kept with its run
 * number. A single failed repetition becomes a note; only when all failed is the result an error.
 */
export function aggregate(runs: RunOutcome[]): RunOutcome {
  const worked = runs.flatMap((run) => ("metrics" in run ? [run] : []));
  const notes = runs.flatMap((run, i) => {
    const prefix = runs.length > 1 ? `run ${i + 1}: ` : "";
    return "metrics" in run ? run.notes.map((note) => `${prefix}${note}`) : [`${prefix}failed: ${run.error.split("\n")[0]}`];
  });
  if (worked.length === 0) return { error: notes.join("; ") };
  const metrics: Metric[] = worked[0]!.metrics.map((first) => ({
    ...first,
    value: median(worked.map((run) => run.metrics.find((m) => m.key === first.key)?.value ?? Number.NaN)),
  }));
  return { metrics, notes };
}
