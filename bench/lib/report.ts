import type { Metric, RunResult, ScenarioName } from "../scenarios/types.ts";
import type { TargetKind } from "./targets.ts";

export type RunOutcome = RunResult | { error: string };

export interface ScenarioOutcome {
  name: ScenarioName;
  title: string;
  description: string;
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
}

/** The targets, as ratios of ours to the ceiling. */
const TARGETS: ReadonlyArray<Omit<TargetCheck, "ratio" | "pass">> = [
  { label: "fan-out deliveries/s ≥ 0.9× ceiling", scenario: "fanout", metric: "deliveriesPerSec", rule: ">=", required: 0.9 },
  { label: "fan-out p99 latency ≤ 1.2× ceiling", scenario: "fanout", metric: "latencyP99Ms", rule: "<=", required: 1.2 },
  { label: "idle memory per connection ≤ 1.2× ceiling", scenario: "idle", metric: "kbPerConnection", rule: "<=", required: 1.2 },
  { label: "HTTP API triggers/s ≥ 0.8× ceiling", scenario: "http", metric: "triggersPerSec", rule: ">=", required: 0.8 },
];

function metricsOf(run: RunOutcome | undefined): Metric[] {
  return run && "metrics" in run ? run.metrics : [];
}

export function ratioOf(outcome: ScenarioOutcome, key: string): number | null {
  const ours = metricsOf(outcome.runs.ours).find((m) => m.key === key)?.value;
  const ceiling = metricsOf(outcome.runs.ceiling).find((m) => m.key === key)?.value;
  if (ours === undefined || ceiling === undefined || !Number.isFinite(ours) || !Number.isFinite(ceiling) || ceiling === 0) return null;
  return ours / ceiling;
}

/** ours/ceiling of one metric in each repetition, so the table shows how much it moved. */
export function ratiosPerRepetition(outcome: ScenarioOutcome, key: string): Array<number | null> {
  const ours = outcome.repetitions.ours ?? [];
  const ceiling = outcome.repetitions.ceiling ?? [];
  return ours.map((run, i) =>
    ratioOf({ ...outcome, runs: { ours: run, ...(ceiling[i] ? { ceiling: ceiling[i] } : {}) } }, key),
  );
}

export function checkTargets(outcomes: ScenarioOutcome[]): TargetCheck[] {
  return TARGETS.map((target) => {
    const outcome = outcomes.find((o) => o.name === target.scenario);
    const ratio = outcome ? ratioOf(outcome, target.metric) : null;
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

/** One markdown table per scenario: ours, ceiling, ratio and, where the issue sets one, the target. */
export function renderScenario(outcome: ScenarioOutcome, checks: TargetCheck[]): string {
  const lines = [`### ${outcome.title} — ${outcome.description}`, ""];
  const ours = metricsOf(outcome.runs.ours);
  const ceiling = metricsOf(outcome.runs.ceiling);
  const keys = ours.length > 0 ? ours : ceiling;
  const repeated = (outcome.repetitions.ours?.length ?? 0) > 1;
  const fixed = (ratio: number | null) => (ratio === null ? "–" : ratio.toFixed(2));
  if (keys.length > 0) {
    lines.push(
      `| metric | unit | ours | ceiling | ours/ceiling |${repeated ? " per run |" : ""} target |`,
      `|---|---|--:|--:|--:|${repeated ? "--:|" : ""}---|`,
    );
    for (const m of keys) {
      const value = (list: Metric[]) => format(list.find((x) => x.key === m.key)?.value);
      const perRun = repeated ? ` ${ratiosPerRepetition(outcome, m.key).map(fixed).join(" / ")} |` : "";
      lines.push(`| ${m.label} | ${m.unit} | ${value(ours)} | ${value(ceiling)} | ${fixed(ratioOf(outcome, m.key))} |${perRun} ${targetCell(checks, outcome.name, m.key)} |`);
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
  const lines = ["### Targets", "", "| target | ours/ceiling | result |", "|---|--:|---|"];
  for (const check of checks) {
    const verdict = check.pass === null ? "n/a (not run)" : check.pass ? "PASS" : "FAIL";
    lines.push(`| ${check.label} | ${check.ratio === null ? "–" : check.ratio.toFixed(2)} | ${verdict} |`);
  }
  return lines.join("\n");
}
