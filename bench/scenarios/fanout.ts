import { CREDENTIALS } from "../lib/targets.ts";
import { openAll } from "./measure.ts";
import { runTriggeredLoad } from "./triggered.ts";
import type { Scenario } from "./types.ts";

const CHANNEL = "bench-fanout";

/** One public channel, N subscribers, events through the signed HTTP API at a fixed rate. */
export const fanout: Scenario = {
  name: "fanout",
  title: "Fan-out",
  describe: (o) => `1 channel × ${o.subscribers} subscribers, ${o.rate} events/s via POST /events, ${o.payloadBytes} B data`,

  async run(context) {
    const { target, options, generator } = context;
    const receivers = Array.from({ length: options.procs }, (_, i) => generator(`fanout-rx${i}`));
    const publisher = generator("fanout-pub");
    await openAll(receivers, options.subscribers, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: CHANNEL, groupSize: null },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    return runTriggeredLoad(context, receivers, publisher, {
      channels: [CHANNEL],
      perRequest: 1,
      ratePerSecond: options.rate,
      maxInFlight: 16,
      deliveriesPerTrigger: options.subscribers,
    });
  },
};
