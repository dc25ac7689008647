import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

const CHANNEL = "bench-fanout";

/** One public channel, N subscribers, events through the signed HTTP API at a fixed rate. */
export const fanout: Scenario = {
  name: "fanout",
  title: "Fan-out",
  describe: (o) => `1 channel × ${o.subscribers} subscribers, ${o.rate} events/s via POST /events, ${o.payloadBytes} B data`,

  async run({ target, options, generator }) {
    const receivers = Array.from({ length: options.procs }, (_, i) => generator(`fanout-rx${i}`));
    const publisher = generator("fanout-pub");
    await openAll(receivers, options.subscribers, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: CHANNEL, groupSize: null },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    const publishing = publisher.call(
      "publish",
      {
        apiBase: target.apiBase,
        credentials: CREDENTIALS,
        channels: [CHANNEL],
        perRequest: 1,
        ratePerSecond: options.rate,
        maxInFlight: 16,
        durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS,
        payloadBytes: options.payloadBytes,
      },
      CALL_TIMEOUT_MS,
    );
    const window = await measure(target, [...receivers, publisher], options.warmupMs, options.durationMs);
    await publishing;

    const { load } = window;
    const pub = window.parts.at(-1)!;
    const seconds = window.wallSeconds;
    return {
      metrics: [
        metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
        metric("offeredPerSec", "offered deliveries/s", "/s", (pub.sent * options.subscribers) / seconds, null),
        ...latency("latency", "end-to-end latency", load.latency),
        ...latency("http", "trigger round trip", load.requestLatency),
        ...serverCpu(window, load.received, "deliveries"),
        generatorCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
