import type { PublishParams } from "../lib/protocol.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { burstSendBoundMs, burstStall, openBurstReceivers, runBurst } from "./burst.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, latency, loadNotes, metric } from "./metrics.ts";
import type { Metric, Scenario } from "./types.ts";

const CHANNEL = "bench-crossnode";

/**
 * Fan-out across two nodes: subscribers on node B, triggers through node A's HTTP API, the event
 * crossing Redis in between (lib/fleet.ts). "ours-worker" and "ours-inline" differ only in where
 * node B's Redis subscriber runs. "ours" and "ceiling" get the very same load on one server, so
 * the table puts cross-node next to single-node fan-out and the ceiling. After the steady window
 * comes the burst (burst.ts).
 */
export const crossnode: Scenario = {
  name: "crossnode",
  title: "Cross-node fan-out (scaling over Redis)",
  targets: ["ours-worker", "ours-inline", "ours", "ceiling"],
  comparisons: [
    ["ours-worker", "ours-inline"],
    ["ours-worker", "ours"],
    ["ours-inline", "ours"],
    ["ours-worker", "ceiling"],
    ["ours-inline", "ceiling"],
    ["ours", "ceiling"],
  ],
  stall: burstStall,
  extraMs: (o) => (o.burst > 0 ? burstSendBoundMs(o) + o.burstDrainMs + 10_000 : 0),
  describe: (o) =>
    `1 channel × ${o.crossSubscribers} subscribers on node B, ${o.crossRate} events/s via node A's POST /events, ${o.payloadBytes} B data` +
    (o.burst > 0
      ? `; then (fleets only) a burst of ${o.burst} events (${o.burstPayloadBytes} B) to ${o.burstSubscribers} subscribers, the steady load on` +
        (o.burstStallPercent > 0 ? ` and ${o.burstStallPercent}% of node B's main thread taken while it is sent` : "")
      : "") +
    `. ours/ceiling: the same load on one server`,

  async run({ target, options, generator }) {
    const receivers = Array.from({ length: options.procs }, (_, i) => generator(`crossnode-rx${i}`));
    const publisher = generator("crossnode-pub");
    await openAll(receivers, options.crossSubscribers, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: CHANNEL, groupSize: null },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });
    // The burst is about the Redis subscriber, so only fleets get it: a stalled single server
    // simply answers its own HTTP API slowly. Spawned now, so a fresh process's start-up does not
    // land inside the burst.
    const bursting = options.burst > 0 && target.fleet !== undefined;
    const burstReceiver = bursting ? generator("burst-rx") : null;
    const burstSender = bursting ? generator("burst-pub") : null;
    if (burstReceiver) await openBurstReceivers(target, options, burstReceiver);

    const steady: PublishParams = {
      apiBase: target.apiBase,
      credentials: CREDENTIALS,
      channels: [CHANNEL],
      perRequest: 1,
      ratePerSecond: options.crossRate,
      maxInFlight: 16,
      durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS,
      payloadBytes: options.payloadBytes,
    };
    const publishing = publisher.call("publish", steady, CALL_TIMEOUT_MS);
    const fleet = target.fleet;
    const others = fleet ? [fleet.publisherPid, fleet.redisPid] : [];
    const window = await measure(target, [...receivers, publisher], options.warmupMs, options.durationMs, others);
    await publishing;

    const { load } = window;
    const pub = window.parts.at(-1)!;
    const seconds = window.wallSeconds;
    const perMillion = (cpuSeconds: number) => (load.received > 0 ? cpuSeconds / (load.received / 1e6) : Number.NaN);
    const [nodeA = Number.NaN, redis = Number.NaN] = window.othersCpuSeconds;
    // One server does all the work alone; a fleet spreads it over A, B and Redis.
    const allCpu = fleet ? window.serverCpuSeconds + nodeA + redis : window.serverCpuSeconds;
    const metrics: Metric[] = [
      metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
      metric("offeredPerSec", "offered deliveries/s", "/s", (pub.sent * options.crossSubscribers) / seconds, null),
      ...latency("latency", "end-to-end latency", load.latency),
      ...latency("http", "trigger round trip", load.requestLatency),
      metric("serverCpuPct", "node B CPU (1 node: the server)", "% of a core", (window.serverCpuSeconds / seconds) * 100, "lower"),
      metric("cpuPerMillion", "node B CPU per 1M deliveries", "CPU-s", perMillion(window.serverCpuSeconds), "lower"),
      metric("nodeACpuPct", "node A CPU", "% of a core", (nodeA / seconds) * 100, null),
      metric("redisCpuPct", "Redis CPU", "% of a core", (redis / seconds) * 100, null),
      metric("allCpuPerMillion", "A + B + Redis CPU per 1M deliveries", "CPU-s", perMillion(allCpu), "lower"),
      generatorCpu(load),
    ];
    const notes = loadNotes(load);

    if (burstReceiver && burstSender) {
      const burst = await runBurst(target, options, {
        receiver: burstReceiver,
        sender: burstSender,
        steadyReceivers: receivers,
        steadyPublisher: publisher,
        steady,
      });
      metrics.push(...burst.metrics);
      notes.push(...burst.notes);
    }
    return { metrics, notes };
  },
};
