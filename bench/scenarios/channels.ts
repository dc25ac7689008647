import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

const PREFIX = "private-bench-";

/** Each socket on its own private channel (a user's notifications); triggers name several channels. */
export const channels: Scenario = {
  name: "channels",
  title: "Many channels",
  describe: (o) =>
    `${o.channels} sockets × own private channel, ${o.channelRate} triggers/s × ${o.channelsPerRequest} channels each`,

  async run({ target, options, generator }) {
    const receivers = Array.from({ length: options.procs }, (_, i) => generator(`channels-rx${i}`));
    const publisher = generator("channels-pub");
    await openAll(receivers, options.channels, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: PREFIX, groupSize: 1 },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    const names = Array.from({ length: options.channels }, (_, i) => `${PREFIX}${i}`);
    const publishing = publisher.call(
      "publish",
      {
        apiBase: target.apiBase,
        credentials: CREDENTIALS,
        channels: names,
        perRequest: Math.min(options.channelsPerRequest, names.length),
        ratePerSecond: options.channelRate,
        maxInFlight: 32,
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
        metric("offeredPerSec", "offered deliveries/s", "/s", (pub.sent * Math.min(options.channelsPerRequest, names.length)) / seconds, null),
        ...latency("latency", "end-to-end latency", load.latency),
        ...latency("http", "trigger round trip", load.requestLatency),
        ...serverCpu(window, load.received, "deliveries"),
        generatorCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
