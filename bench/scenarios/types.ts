import type { BenchOptions } from "../lib/flags.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import type { StallSettings, Target, TargetKind } from "../lib/targets.ts";

export type ScenarioName = "fanout" | "channels" | "chatter" | "presence" | "idle" | "http" | "crossnode" | "slow" | "webhooks" | "bus";

/** One measured number. `better` says which way is good; null for context-only numbers. */
export interface Metric {
  key: string;
  label: string;
  unit: string;
  value: number;
  better: "higher" | "lower" | null;
}

export interface RunResult {
  metrics: Metric[];
  /** Anything that qualifies the numbers: failures, closed sockets, saturated generators. */
  notes: string[];
}

export interface ScenarioContext {
  target: Target;
  options: BenchOptions;
  /** Spawns a generator that is stopped when this run ends, however it ends. */
  generator(name: string): GeneratorHandle;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  /** What the load is, in one line, for the table heading. */
  describe(options: BenchOptions): string;
  /** The targets it runs against unless --target says otherwise; default ours and ceiling. */
  targets?: readonly TargetKind[];
  /** Of `targets`, the ones run when --target is not given (default: all of them). */
  defaultTargets?: readonly TargetKind[];
  /** Ratio columns of its table, as [numerator, denominator]; default ours/ceiling. */
  comparisons?: ReadonlyArray<readonly [TargetKind, TargetKind]>;
  /** Start the subscribers' server with lib/stall.ts so the scenario can block its main thread. */
  stall?(options: BenchOptions, kind: TargetKind): StallSettings | null;
  /** Time a run may take beyond set-up, warm-up and window (phases of its own, bounded). */
  extraMs?(options: BenchOptions): number;
  run(context: ScenarioContext): Promise<RunResult>;
}
