/**
 * `npm run bench`: runs each scenario against our server and against the ceiling (bench/ceiling.ts),
 * each on a fresh server process, prints markdown tables with ours/ceiling ratios and the issue's
 * targets, and writes the same as JSON to bench/results/. Flags: see bench/README.md or --help.
 */
import { aggregate } from "./lib/aggregate.ts";
import { Children } from "./lib/children.ts";
import { withTimeout } from "./lib/clock.ts";
import { USAGE, parseFlags, type BenchOptions } from "./lib/flags.ts";
import { GeneratorHandle } from "./lib/generator-handle.ts";
import { startFleet } from "./lib/fleet.ts";
import { DEFAULT_COMPARISONS, checkTargets, renderScenario, renderTargets, type RunOutcome, type ScenarioOutcome } from "./lib/report.ts";
import { commit, machine, writeResults } from "./lib/results.ts";
import { VARIANT_KINDS, isFleetKind, startTarget, type ServerOptions, type Target, type TargetKind } from "./lib/targets.ts";
import { SCENARIO_TABLE } from "./scenarios/index.ts";
import type { Scenario } from "./scenarios/types.ts";

/** Set-up (connecting thousands of sockets) plus load plus slack; past this a run is a failure. */
const RUN_SLACK_MS = 90_000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** What a scenario runs against unless --target narrows it. */
const DEFAULT_TARGETS: readonly TargetKind[] = ["ours", "ceiling"];

async function runOnce(scenario: Scenario, kind: TargetKind, options: BenchOptions, children: Children): Promise<RunOutcome> {
  let target: Target;
  try {
    const server: ServerOptions = {
      profileDir: options.profileDir,
      stall: scenario.stall?.(options, kind) ?? null,
      // Idle past one source/destination pair's ~28k ephemeral ports needs more destinations.
      listenAll: scenario.name === "idle",
    };
    target = isFleetKind(kind) ? await startFleet(kind, children, server) : await startTarget(kind, children, server);
  } catch (error) {
    // One target that cannot start (no redis-server, say) fails its runs, not the whole bench.
    const message = (error as Error).message;
    log(`${scenario.name}/${kind} could not start: ${message}`);
    return { error: message };
  }
  const generators: GeneratorHandle[] = [];
  try {
    const run = scenario.run({
      target,
      options,
      generator: (name) => {
        const handle = new GeneratorHandle(`${kind}/${name}`, children);
        generators.push(handle);
        return handle;
      },
    });
    const limitMs = options.warmupMs + options.durationMs + (scenario.extraMs?.(options) ?? 0) + RUN_SLACK_MS;
    return await withTimeout(run, limitMs, `${scenario.name} against ${kind}`);
  } catch (error) {
    const message = (error as Error).message;
    log(`${scenario.name}/${kind} failed: ${message}\n${target.tail()}`);
    return { error: message };
  } finally {
    // The server first: its sockets close from its side, so the clients' ports are not left in TIME_WAIT.
    await target.stop();
    await Promise.all(generators.map((generator) => children.stop(generator.process)));
  }
}

/** ours/ceiling, and for each other way to run ours (`ours-wN`, `ours-node`) it/ceiling and it/ours. */
function comparisonsFor(targets: TargetKind[]): ReadonlyArray<readonly [TargetKind, TargetKind]> {
  const workers = targets.filter((kind) => (VARIANT_KINDS as readonly string[]).includes(kind));
  if (workers.length === 0) return DEFAULT_COMPARISONS;
  return [
    ...(targets.includes("ours") ? ([["ours", "ceiling"]] as const) : []),
    ...workers.map((kind) => [kind, "ceiling"] as const),
    ...(targets.includes("ours") ? workers.map((kind) => [kind, "ours"] as const) : []),
  ];
}

async function main(): Promise<number> {
  const parsed = parseFlags(process.argv.slice(2));
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  const options = parsed;
  const children = new Children();
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: killing every child process`);
    children.killAllNow();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // A run that failed or timed out can leave a load call pending; it rejects once its generator
  // is stopped. That is expected, not a reason to abandon the remaining scenarios.
  process.on("unhandledRejection", (reason) => log(`late failure ignored: ${(reason as Error)?.message ?? reason}`));

  const startedAt = new Date();
  const host = machine();
  const header = `Run ${startedAt.toISOString()} — commit ${commit()}, ${host.nproc} cores, ${host.memoryGiB} GiB, bun ${host.bun}, load average at start ${host.loadAverage.join(" ")}`;
  log(header);
  const outcomes: ScenarioOutcome[] = [];
  try {
    for (const [index, name] of options.scenarios.entries()) {
      const scenario = SCENARIO_TABLE[name];
      const description = scenario.describe(options);
      const own = scenario.targets ?? DEFAULT_TARGETS;
      // `ours-wN` and `ours-node` run in every scenario that runs `ours`, when asked for by --target.
      const accepts = (kind: TargetKind) => own.includes(kind) || ((VARIANT_KINDS as readonly string[]).includes(kind) && own.includes("ours"));
      const targets = (options.targets ?? scenario.defaultTargets ?? own).filter(accepts);
      if (targets.length === 0) {
        log(`${scenario.title}: skipped, it runs against ${own.join(", ")} only`);
        continue;
      }
      const repetitions: ScenarioOutcome["repetitions"] = {};
      for (let round = 0; round < options.repeat; round++) {
        // ABBA: who goes first alternates, so drift and a neighbour's load on this shared box
        // do not always land on the same side.
        const order = (index + round) % 2 === 0 ? targets : [...targets].reverse();
        for (const kind of order) {
          log(`${scenario.title} against ${kind} (run ${round + 1}/${options.repeat}): ${description}`);
          const began = performance.now();
          (repetitions[kind] ??= []).push(await runOnce(scenario, kind, options, children));
          log(`  done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
        }
      }
      const runs: ScenarioOutcome["runs"] = {};
      for (const kind of targets) runs[kind] = aggregate(repetitions[kind] ?? []);
      const comparisons = scenario.comparisons ?? comparisonsFor(targets);
      outcomes.push({ name, title: scenario.title, description, targets, comparisons, runs, repetitions });
    }
  } finally {
    await children.stopAll();
  }

  const checks = checkTargets(outcomes);
  console.log(`${header}, at end ${machine().loadAverage.join(" ")}\n`);
  console.log(outcomes.map((outcome) => renderScenario(outcome, checks)).join("\n\n"));
  console.log(`\n${renderTargets(checks)}`);
  const path = writeResults(options, outcomes, checks, startedAt, host);
  log(`results written to ${path} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);
  const failedRuns = outcomes.some((outcome) =>
    Object.values(outcome.repetitions).some((runs) => runs?.some((run) => "error" in run)),
  );
  return failedRuns ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    log(error.stack ?? error.message);
    process.exit(2);
  },
);
