import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, split } from "./measure.ts";
import { generatorCpu, generatorsCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

const CHANNEL = "bench-http";

/** The broadcaster's side: a few keep-alive clients triggering as fast as answers come back. */
export const http: Scenario = {
  name: "http",
  title: "HTTP API throughput",
  describe: (o) => `${o.httpClients} keep-alive clients in a closed loop, POST /events to 1 channel with 1 subscriber`,

  async run({ target, options, generator }) {
    const shares = split(options.httpClients, options.procs);
    const clients = shares.map((_, i) => generator(`http${i}`));
    // One subscriber, so every trigger is also a real delivery.
    await clients[0]!.call(
      "open",
      {
        wsUrl: target.wsUrl,
        count: 1,
        offset: 0,
        concurrency: 1,
        channel: { prefix: CHANNEL, groupSize: null },
        credentials: CREDENTIALS,
        timeoutMs: 10_000,
      },
      CALL_TIMEOUT_MS,
    );

    const loading = clients.map((client, i) =>
      client.call(
        "http",
        {
          apiBase: target.apiBase,
          credentials: CREDENTIALS,
          channel: CHANNEL,
          clients: shares[i]!.count,
          durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS,
          payloadBytes: options.payloadBytes,
        },
        CALL_TIMEOUT_MS,
      ),
    );
    const window = await measure(target, clients, options.warmupMs, options.durationMs);
    await Promise.all(loading);

    const { load } = window;
    const seconds = window.wallSeconds;
    return {
      metrics: [
        metric("triggersPerSec", "triggers/s", "/s", load.sent / seconds, "higher"),
        ...latency("http", "trigger round trip", load.requestLatency),
        metric("deliveriesPerSec", "deliveries/s (1 subscriber)", "/s", load.received / seconds, null),
        ...serverCpu(window, load.sent, "triggers"),
        generatorCpu(load),
        generatorsCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
