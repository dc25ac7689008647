import { sleep } from "../lib/clock.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import { rssKb } from "../lib/procfs.ts";
import type { PublishParams } from "../lib/protocol.ts";
import { CREDENTIALS, METRICS_TOKEN, type Target } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, type Window } from "./measure.ts";
import { latency, loadNotes, metric } from "./metrics.ts";
import type { Metric, Scenario } from "./types.ts";

const CHANNEL = "bench-slow";
/** How long paused readers may read on at the end to find out how they were closed. */
const RESUME_WAIT_MS = 10_000;
const RSS_SAMPLE_MS = 250;

/** Runs a measured window of triggers to the channel, sampling the server's RSS meanwhile. */
async function phase(target: Target, receivers: GeneratorHandle[], publisher: GeneratorHandle, load: PublishParams, warmupMs: number, durationMs: number) {
  let peakKb = rssKb(target.pid);
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(target.pid))), RSS_SAMPLE_MS);
  try {
    const publishing = publisher.call("publish", { ...load, durationMs: warmupMs + durationMs + LOAD_TAIL_MS }, CALL_TIMEOUT_MS);
    const window = await measure(target, [...receivers, publisher], warmupMs, durationMs);
    await publishing;
    return { window, peakKb: Math.max(peakKb, rssKb(target.pid)) };
  } finally {
    clearInterval(sampler);
  }
}

/** Slow consumers our server says it closed (its /metrics); NaN for the ceiling, which has none. */
async function serverCountedCloses(target: Target): Promise<number> {
  if (target.kind === "ceiling") return Number.NaN;
  const text = await (await fetch(`${target.apiBase}/metrics?token=${METRICS_TOKEN}`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("reverb_slow_consumers_closed_total{"))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

const healthyLatency = (window: Window, suffix: string, label: string): Metric[] =>
  latency(`healthy${suffix}`, `healthy latency ${label}`, window.load.latency);

/**
 * Slow consumers: healthy readers on one channel get a steady stream of events, first alone,
 * then with paused readers (subscribed, reading nothing) on the same channel. Reports the
 * healthy readers' latency in both windows, the server's memory while the paused ones fall
 * behind, and how each paused reader was closed, found by reading again at the end.
 */
export const slow: Scenario = {
  name: "slow",
  title: "Slow consumers",
  describe: (o) =>
    `1 channel: ${o.slowHealthy} healthy readers, ${o.slowRate} events/s of ${o.slowPayload} B via POST /events; ` +
    `${o.durationMs / 1000} s alone, then ${o.slowSeconds} s with ${o.slowPaused} more that subscribe and stop reading`,
  extraMs: (o) => o.warmupMs + o.slowSeconds * 1000 + RESUME_WAIT_MS + 30_000,

  async run({ target, options, generator }) {
    const healthy = generator("slow-rx");
    const pausedHolder = generator("slow-paused");
    const publisher = generator("slow-pub");
    const opened = await healthy.call(
      "open",
      { wsUrl: target.wsUrl, count: options.slowHealthy, offset: 0, concurrency: 50, channel: { prefix: CHANNEL, groupSize: null }, credentials: CREDENTIALS, timeoutMs: 10_000 },
      CALL_TIMEOUT_MS,
    );
    if (opened.failed > 0) throw new Error(`${opened.failed} healthy readers failed to open: ${opened.firstError}`);
    const load: PublishParams = {
      apiBase: target.apiBase,
      credentials: CREDENTIALS,
      channels: [CHANNEL],
      perRequest: 1,
      ratePerSecond: options.slowRate,
      maxInFlight: 16,
      durationMs: 0,
      payloadBytes: options.slowPayload,
    };

    const alone = await phase(target, [healthy], publisher, load, options.warmupMs, options.durationMs);
    await sleep(500);
    const rssBeforeKb = rssKb(target.pid);
    const paused = await pausedHolder.call(
      "openPaused",
      { wsUrl: target.wsUrl, channel: CHANNEL, count: options.slowPaused, concurrency: 50, timeoutMs: 10_000 },
      CALL_TIMEOUT_MS,
    );
    if (paused.failed > 0) throw new Error(`${paused.failed} paused readers failed to open: ${paused.firstError}`);
    const withPaused = await phase(target, [healthy], publisher, load, 0, options.slowSeconds * 1000);
    const rssAfterKb = rssKb(target.pid);
    const serverClosed = await serverCountedCloses(target);
    const { outcomes } = await pausedHolder.call("resumePaused", { waitMs: RESUME_WAIT_MS }, CALL_TIMEOUT_MS);

    const sent = withPaused.window.parts.at(-1)!.sent;
    const expected = sent * options.slowHealthy;
    const received = withPaused.window.load.received;
    const p99 = (window: Window) => healthyLatency(window, "", "").find((m) => m.key === "healthyP99Ms")!.value;
    const count = (outcome: string) => outcomes[outcome] ?? 0;
    const closedOther = Object.entries(outcomes)
      .filter(([outcome]) => outcome !== "close 4100" && outcome !== "closed, no close frame" && outcome !== "still open")
      .map(([outcome, n]) => `${n} × ${outcome}`);
    const notes = [...loadNotes(alone.window.load), ...loadNotes(withPaused.window.load)];
    if (closedOther.length > 0) notes.push(`paused readers also closed with: ${closedOther.join(", ")}`);
    return {
      metrics: [
        ...healthyLatency(alone.window, "Alone", "without paused readers"),
        ...healthyLatency(withPaused.window, "WithPaused", "with paused readers"),
        metric("healthyP99Growth", "healthy p99 with / without paused readers", "×", p99(withPaused.window) / p99(alone.window), "lower"),
        metric("healthyDeliveredPct", "healthy deliveries arrived (with paused readers)", "%", expected > 0 ? (received / expected) * 100 : Number.NaN, "higher"),
        metric("rssBeforeMb", "server RSS before the paused readers", "MB", rssBeforeKb / 1024, null),
        metric("rssPeakMb", "server RSS peak with them", "MB", withPaused.peakKb / 1024, "lower"),
        metric("rssGrowthMb", "server RSS growth", "MB", (withPaused.peakKb - rssBeforeKb) / 1024, "lower"),
        metric("rssAfterMb", "server RSS at the end of the window", "MB", rssAfterKb / 1024, "lower"),
        metric("serverClosed", "slow consumers the server closed with 4100 (its /metrics)", "sockets", serverClosed, null),
        metric("paused4100", "paused readers that read a 4100 close frame on resuming", "sockets", count("close 4100"), null),
        metric("pausedNoFrame", "paused readers closed without a close frame", "sockets", count("closed, no close frame"), null),
        metric("pausedOpen", "paused readers still open at the end", "sockets", count("still open"), null),
        metric("serverCpuPct", "server CPU with paused readers", "% of a core", (withPaused.window.serverCpuSeconds / withPaused.window.wallSeconds) * 100, "lower"),
      ],
      notes,
    };
  },
};
