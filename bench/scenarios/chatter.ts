import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, generatorsCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

/** Small private rooms where every member whispers: the server parses, checks membership, relays. */
export const chatter: Scenario = {
  name: "chatter",
  title: "Client-event chatter",
  describe: (o) =>
    `${o.chatters} sockets in private rooms of ${o.chatGroup}, each sending ${o.chatRate} client events/s`,

  async run({ target, options, generator }) {
    const members = Array.from({ length: options.procs }, (_, i) => generator(`chatter${i}`));
    await openAll(members, options.chatters, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: "private-chat-", groupSize: options.chatGroup },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    const talking = members.map((member) =>
      member.call(
        "chatter",
        {
          ratePerSocket: options.chatRate,
          durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS,
          payloadBytes: options.payloadBytes,
        },
        CALL_TIMEOUT_MS,
      ),
    );
    const window = await measure(target, members, options.warmupMs, options.durationMs);
    await Promise.all(talking);

    const { load } = window;
    const seconds = window.wallSeconds;
    return {
      metrics: [
        metric("clientEventsPerSec", "client events sent/s", "/s", load.sent / seconds, null),
        metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
        metric("offeredPerSec", "offered deliveries/s", "/s", (load.sent * (options.chatGroup - 1)) / seconds, null),
        ...latency("latency", "end-to-end latency", load.latency),
        ...serverCpu(window, load.received, "deliveries"),
        generatorCpu(load),
        generatorsCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
