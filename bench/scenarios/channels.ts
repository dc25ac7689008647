import { CREDENTIALS } from "../lib/targets.ts";
import { openAll } from "./measure.ts";
import { runTriggeredLoad } from "./triggered.ts";
import type { Scenario } from "./types.ts";

const PREFIX = "private-bench-";

/** Each socket on its own private channel (a user's notifications); triggers name several channels. */
export const channels: Scenario = {
  name: "channels",
  title: "Many channels",
  describe: (o) =>
    `${o.channels} sockets × own private channel, ${o.channelRate} triggers/s × ${o.channelsPerRequest} channels each`,

  async run(context) {
    const { target, options, generator } = context;
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
    const perRequest = Math.min(options.channelsPerRequest, names.length);
    return runTriggeredLoad(context, receivers, publisher, {
      channels: names,
      perRequest,
      ratePerSecond: options.channelRate,
      maxInFlight: 32,
      deliveriesPerTrigger: perRequest,
    });
  },
};
