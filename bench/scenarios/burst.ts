import { sleep, wallMs, withTimeout } from "../lib/clock.ts";
import type { BenchOptions } from "../lib/flags.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import { cpuSince, markCpu, rssKb } from "../lib/procfs.ts";
import type { PublishParams } from "../lib/protocol.ts";
import { CREDENTIALS, isFleetKind, type FleetInfo, type StallSettings, type Target, type TargetKind } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, combine, openAll } from "./measure.ts";
import { latency, metric } from "./metrics.ts";
import type { Metric } from "./types.ts";

export const BURST_CHANNEL = "bench-burst";
/** How often the burst samples Redis' output buffer, node B's RSS and the deliveries so far. */
const POLL_MS = 100;
/** A burst trigger still in flight when the send cap is reached ends within trigger.ts's timeout. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The stall's own bound is later than the runner's "off", which comes when sending ends. */
const STALL_SLACK_MS = 5_000;
/** CLIENT LIST answers in microseconds; a stuck Redis must not stall the poll. */
const PROBE_TIMEOUT_MS = 2_000;
/** Lets the background load reach node B before the burst starts. */
const BACKGROUND_LEAD_MS = 500;

/** The generators the burst uses: its own receivers and sender, and the steady load's. */
export interface BurstLoad {
  /** Holds `--burst-subscribers` sockets on the burst channel, so its counters are the burst's alone. */
  receiver: GeneratorHandle;
  sender: GeneratorHandle;
  steadyReceivers: GeneratorHandle[];
  steadyPublisher: GeneratorHandle;
  /** The steady load's publish parameters, reused (with a new duration) as the background. */
  steady: PublishParams;
}

/** How long sending can last: the cap, then the last requests' timeout. */
export function burstSendBoundMs(options: BenchOptions): number {
  return options.burstMs + REQUEST_TIMEOUT_MS;
}

/** The stall node B of a fleet is started with, when the burst keeps its main thread busy. */
export function burstStall(options: BenchOptions, kind: TargetKind): StallSettings | null {
  if (!isFleetKind(kind) || options.burst === 0 || options.burstStallPercent === 0) return null;
  return { percent: options.burstStallPercent, forMs: burstSendBoundMs(options) + STALL_SLACK_MS };
}

export async function openBurstReceivers(target: Target, options: BenchOptions, receiver: GeneratorHandle): Promise<void> {
  await openAll([receiver], options.burstSubscribers, {
    wsUrl: target.wsUrl,
    concurrency: 100,
    channel: { prefix: BURST_CHANNEL, groupSize: null },
    credentials: CREDENTIALS,
    timeoutMs: 10_000,
  });
}

/** What is sampled while the burst runs: the worst Redis and node B got. */
class Samples {
  peakOutputBytes = 0;
  subscriberGone = false;
  peakRssKb: number;

  constructor(
    private readonly pid: number,
    private readonly fleet: FleetInfo,
  ) {
    this.peakRssKb = rssKb(pid);
  }

  async take(): Promise<void> {
    this.peakRssKb = Math.max(this.peakRssKb, rssKb(this.pid));
    const clients = await withTimeout(this.fleet.pubsubClients(), PROBE_TIMEOUT_MS, "CLIENT LIST");
    const subscriber = clients.find((client) => client.id === this.fleet.subscriberId);
    if (subscriber) this.peakOutputBytes = Math.max(this.peakOutputBytes, subscriber.omem);
    else this.subscriberGone = true;
  }
}

/**
 * The saturating part of the crossnode scenario: `--burst` triggers to a small channel on node B,
 * sent by `--http-clients` closed-loop clients as fast as the HTTP API answers, while node B's
 * main thread is busy: the steady load keeps fanning out to the big channel, and lib/stall.ts
 * takes `--burst-stall` percent of the main thread until sending ends. (On 2 shared cores the
 * receiving clients and node A, not node B, set the pace of plain fan-out, so load alone never
 * saturates B's main thread.) Node A accepts faster than node B can deliver, so the backlog piles
 * up somewhere: in Redis' output buffer for B's subscriber when the subscriber shares B's main
 * thread ("inline"), in B's memory when a worker thread drains Redis ("worker"). Sending stops at
 * the count or after `--burst-seconds`; waiting for deliveries stops when all arrived or
 * `--burst-drain` seconds after the last send.
 */
export async function runBurst(target: Target, options: BenchOptions, load: BurstLoad): Promise<{ metrics: Metric[]; notes: string[] }> {
  const fleet = target.fleet;
  if (!fleet) throw new Error("the burst measures a fleet's Redis subscriber; this target is one server");
  const background = load.steadyPublisher.call(
    "publish",
    { ...load.steady, durationMs: BACKGROUND_LEAD_MS + burstSendBoundMs(options) + options.burstDrainMs },
    CALL_TIMEOUT_MS,
  );
  await sleep(BACKGROUND_LEAD_MS);
  const everyone = [load.receiver, load.sender, ...load.steadyReceivers];
  await Promise.all(everyone.map((generator) => generator.call("mark", null, CALL_TIMEOUT_MS)));
  const rssBeforeKb = rssKb(target.pid);
  const samples = new Samples(target.pid, fleet);
  const cpuMark = markCpu(target.pid);
  const disconnectsBefore = fleet.subscriberDisconnects();

  target.toggleStall?.();
  const started = wallMs();
  let sendDone = false;
  const sending = load.sender
    .call(
      "http",
      {
        apiBase: target.apiBase,
        credentials: CREDENTIALS,
        channel: BURST_CHANNEL,
        clients: options.httpClients,
        durationMs: options.burstMs,
        maxCount: options.burst,
        payloadBytes: options.burstPayloadBytes,
      },
      CALL_TIMEOUT_MS,
    )
    .finally(() => (sendDone = true));

  // Bounded: sending ends by --burst-seconds plus one request timeout (or the call's deadline
  // rejects it), and waiting ends --burst-drain seconds after that.
  let sendEnded = 0;
  let accepted = 0;
  let delivered = 0;
  for (;;) {
    await sleep(POLL_MS);
    await samples.take();
    if (!sendDone) continue;
    if (sendEnded === 0) {
      target.toggleStall?.();
      sendEnded = performance.now();
      accepted = (await load.sender.call("snapshot", null, CALL_TIMEOUT_MS)).sent;
    }
    delivered = (await load.receiver.call("snapshot", null, CALL_TIMEOUT_MS)).received;
    if (delivered >= accepted * options.burstSubscribers || performance.now() - sendEnded > options.burstDrainMs) break;
  }
  const cpu = cpuSince(target.pid, cpuMark);
  await Promise.all([load.steadyPublisher, load.sender].map((generator) => generator.call("halt", null, CALL_TIMEOUT_MS)));
  await Promise.all([background, sending]);

  const [received, sent, ...steadyParts] = await Promise.all(everyone.map((generator) => generator.call("snapshot", null, CALL_TIMEOUT_MS)));
  const steady = combine(steadyParts);
  const expected = accepted * options.burstSubscribers;
  const disconnects = fleet.subscriberDisconnects() - disconnectsBefore;
  const dropped = disconnects > 0 || samples.subscriberGone;
  // 0 means "never happened" (no trigger answered, nothing delivered): no rate then.
  const seconds = (until: number) => (until === 0 ? Number.NaN : (until - started) / 1000);
  // A delivery can beat its own HTTP answer back to the sender: a lag below 0 is "none".
  const lag =
    received!.lastDeliveredAt === 0 || sent!.lastCompletedAt === 0 ? Number.NaN : Math.max(0, received!.lastDeliveredAt - sent!.lastCompletedAt) / 1000;

  const notes: string[] = [];
  if (sent!.failed > 0) notes.push(`burst: ${sent!.failed} trigger(s) failed, first: ${sent!.firstError}`);
  if (received!.received < expected) {
    notes.push(`burst: ${received!.received} of ${expected} deliveries arrived within ${options.burstDrainMs / 1000} s of the last trigger`);
  }
  if (dropped) notes.push(`burst: node B's Redis subscriber was disconnected (${disconnects} "Redis subscriber disconnected" line(s) in its log)`);
  if (received!.closed + steady.closed > 0) notes.push(`burst: ${received!.closed + steady.closed} socket(s) closed by the server`);

  return {
    metrics: [
      metric("burstTriggers", "burst: triggers accepted", "", accepted, null),
      metric("burstTriggersPerSec", "burst: triggers accepted/s (node A's API)", "/s", accepted / seconds(sent!.lastCompletedAt), "higher"),
      metric("burstDeliveredPct", "burst: deliveries arrived", "%", expected > 0 ? (received!.received / expected) * 100 : Number.NaN, "higher"),
      metric("burstDeliveriesPerSec", "burst: deliveries/s, first send to last delivery", "/s", received!.received / seconds(received!.lastDeliveredAt), "higher"),
      metric("burstLagS", "burst: last delivery after last trigger answered", "s", lag, "lower"),
      ...latency("burstLatency", "burst: end-to-end latency", received!.latency),
      ...latency("burstSteadyLatency", "burst: steady channel latency meanwhile", steady.latency),
      metric("burstServerCpuPct", "burst: node B CPU (stall included)", "% of a core", (cpu.cpuSeconds / cpu.wallSeconds) * 100, null),
      metric("burstRssGrowthMb", "burst: node B RSS growth, peak", "MB", (samples.peakRssKb - rssBeforeKb) / 1024, "lower"),
      metric("burstRedisBufferMb", "burst: Redis output buffer for node B's subscriber, peak", "MB", samples.peakOutputBytes / 2 ** 20, "lower"),
      metric("burstSubscriberDropped", "burst: node B's subscriber disconnected (1 = yes)", "", dropped ? 1 : 0, "lower"),
    ],
    notes,
  };
}
