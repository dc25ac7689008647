import type { Metric, RunResult, ScenarioName } from "../scenarios/types.ts";
import type { TargetKind } from "./targets.ts";

export type RunOutcome = RunResult | { error: string };

/** A ratio column: numerator target / denominator target. */
export type Comparison = readonly [TargetKind, TargetKind];

export const DEFAULT_COMPARISONS: readonly Comparison[] = [["ours", "ceiling"]];

export interface ScenarioOutcome {
  name: ScenarioName;
  title: string;
  description: string;
  /** The targets run, in table order, and the ratio columns (see Scenario). */
  targets: TargetKind[];
  comparisons: readonly Comparison[];
  /** Each target's repetitions folded into one (see aggregate.ts). */
  runs: Partial<Record<TargetKind, RunOutcome>>;
  /** Every repetition as measured, in order. */
  repetitions: Partial<Record<TargetKind, RunOutcome[]>>;
}

export interface TargetCheck {
  label: string;
  scenario: ScenarioName;
  metric: string;
  rule: ">=" | "<=";
  required: number;
  /** ours / ceiling, null when either run is missing. */
  ratio: number | null;
  pass: boolean | null;
  /** The ratio's targets; ours/ceiling unless told. */
  comparison?: Comparison;
}

/** The targets, as ratios of ours to the ceiling. */
const TARGETS: ReadonlyArray<Omit<TargetCheck, "ratio" | "pass">> = [
  { label: "fan-out deliveries/s ≥ 0.9× ceiling", scenario: "fanout", metric: "deliveriesPerSec", rule: ">=", required: 0.9 },
  { label: "fan-out p99 latency ≤ 1.2× ceiling", scenario: "fanout", metric: "latencyP99Ms", rule: "<=", required: 1.2 },
  { label: "idle memory per connection ≤ 1.2× ceiling", scenario: "idle", metric: "kbPerConnection", rule: "<=", required: 1.2 },
  { label: "HTTP API triggers/s ≥ 0.8× ceiling", scenario: "http", metric: "triggersPerSec", rule: ">=", required: 0.8 },
  // Within 10% of the same ratio to the ceiling without webhooks: (hooks/ceiling) / (ours/ceiling).
  { label: "client-event deliveries/s with webhooks ≥ 0.9× without", scenario: "webhooks", metric: "deliveriesPerSec", rule: ">=", required: 0.9, comparison: ["ours-webhooks", "ours"] },
];

function metricsOf(run: RunOutcome | undefined): Metric[] {
  return run && "metrics" in run ? run.metrics : [];
}

/** a/b of one metric (ours/ceiling unless told), null when either is missing or b is 0. */
export function ratioOf(outcome: Pick<ScenarioOutcome, "runs">, key: string, [a, b]: Comparison = ["ours", "ceiling"]): number | null {
  const top = metricsOf(outcome.runs[a]).find((m) => m.key === key)?.value;
  const bottom = metricsOf(outcome.runs[b]).find((m) => m.key === key)?.value;
  if (top === undefined || bottom === undefined || !Number.isFinite(top) || !Number.isFinite(bottom) || bottom === 0) return null;
  return top / bottom;
}

/** a/b of one metric in each repetition, so the table shows how much it moved. */
export function ratiosPerRepetition(outcome: ScenarioOutcome, key: string, [a, b]: Comparison = ["ours", "ceiling"]): Array<number | null> {
  const tops = outcome.repetitions[a] ?? [];
  const bottoms = outcome.repetitions[b] ?? [];
  return tops.map((run, i) => ratioOf({ runs: { [a]: run, ...(bottoms[i] ? { [b]: bottoms[i] } : {}) } }, key, [a, b]));
}

export function checkTargets(outcomes: ScenarioOutcome[]): TargetCheck[] {
  return TARGETS.map((target) => {
    const outcome = outcomes.find((o) => o.name === target.scenario);
    const ratio = outcome ? ratioOf(outcome, target.metric, target.comparison) : null;
    const pass = ratio === null ? null : target.rule === ">=" ? ratio >= target.required : ratio <= target.required;
    return { ...target, ratio, pass };
  });
}

export function format(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString("en-US");
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

function targetCell(checks: TargetCheck[], scenario: ScenarioName, key: string): string {
  const check = checks.find((c) => c.scenario === scenario && c.metric === key);
  if (!check) return "";
  const verdict = check.pass === null ? "n/a" : check.pass ? "PASS" : "FAIL";
  return `${check.rule} ${check.required} ${verdict}`;
}

/**
 * One markdown table per scenario: each target's value, the ratio columns and, where the issue
 * sets one, the target. "per run" shows the first ratio in each repetition. Scenarios with their
 * own comparisons have no targets, so that column is left out of their (wide) tables.
 */
export function renderScenario(outcome: ScenarioOutcome, checks: TargetCheck[]): string {
  const lines = [`### ${outcome.title} — ${outcome.description}`, ""];
  const columns = outcome.targets.filter((kind) => outcome.runs[kind]);
  const metrics = new Map(columns.map((kind) => [kind, metricsOf(outcome.runs[kind])]));
  const comparisons = outcome.comparisons.filter(([a, b]) => columns.includes(a) && columns.includes(b));
  const first = comparisons[0];
  // Every metric any target reported, in the order they first appear.
  const rows = new Map<string, Metric>();
  for (const list of metrics.values()) for (const m of list) if (!rows.has(m.key)) rows.set(m.key, m);
  const repeated = first !== undefined && (outcome.repetitions[first[0]]?.length ?? 0) > 1;
  const withTargets = outcome.comparisons.length === 1 && outcome.comparisons[0]![0] === "ours" && outcome.comparisons[0]![1] === "ceiling";
  const fixed = (ratio: number | null) => (ratio === null ? "–" : ratio.toFixed(2));
  if (rows.size > 0) {
    const head = [...columns, ...comparisons.map(([a, b]) => `${a}/${b}`), ...(repeated ? ["per run"] : []), ...(withTargets ? ["target"] : [])];
    const align = [...columns.map(() => "--:"), ...comparisons.map(() => "--:"), ...(repeated ? ["--:"] : []), ...(withTargets ? ["---"] : [])];
    lines.push(`| metric | unit | ${head.join(" | ")} |`, `|---|---|${align.join("|")}|`);
    for (const m of rows.values()) {
      const cells = [
        ...columns.map((kind) => format(metrics.get(kind)!.find((x) => x.key === m.key)?.value)),
        ...comparisons.map((pair) => fixed(ratioOf(outcome, m.key, pair))),
        ...(repeated ? [ratiosPerRepetition(outcome, m.key, first).map(fixed).join(" / ")] : []),
      ];
      const target = withTargets ? ` ${targetCell(checks, outcome.name, m.key)} |` : "";
      lines.push(`| ${m.label} | ${m.unit} | ${cells.join(" | ")} |${target}`);
    }
  }
  for (const [kind, run] of Object.entries(outcome.runs)) {
    if (!run) continue;
    if ("error" in run) lines.push("", `- ${kind}: **error** ${run.error.split("\n")[0]}`);
    else for (const note of run.notes) lines.push("", `- ${kind}: ${note}`);
  }
  return lines.join("\n");
}

export function renderTargets(checks: TargetCheck[]): string {
  const lines = ["### Targets", "", "| target | ratio | result |", "|---|--:|---|"];
  for (const check of checks) {
    const verdict = check.pass === null ? "n/a (not run)" : check.pass ? "PASS" : "FAIL";
    lines.push(`| ${check.label} | ${check.ratio === null ? "–" : check.ratio.toFixed(2)} | ${verdict} |`);
  }
  return lines.join("\n");
}
