import { CREDENTIALS, METRICS_TOKEN, type Target } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

/** Our webhook counters (its /metrics), summed over apps; NaN for servers without webhooks. */
async function webhookCounters(target: Target): Promise<Record<"sent" | "dropped" | "failed", number>> {
  if (target.kind !== "ours-webhooks") return { sent: Number.NaN, dropped: Number.NaN, failed: Number.NaN };
  const text = await (await fetch(`${target.apiBase}/metrics?token=${METRICS_TOKEN}`)).text();
  const sum = (name: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`reverb_webhooks_${name}_total{`))
      .reduce((total, line) => total + Number(line.split(" ").at(-1)), 0);
  return { sent: sum("sent"), dropped: sum("dropped"), failed: sum("failed") };
}

/**
 * One busy private channel where every member sends client events, against our server without
 * webhooks, with a client_event webhook for every one of them (receiver on loopback, one request
 * per event as Pusher sends them), and the ceiling: what webhooks cost message delivery.
 */
export const webhooks: Scenario = {
  name: "webhooks",
  title: "Client events with webhooks",
  describe: (o) => `${o.hookSenders} sockets on one private channel, each sending ${o.hookRate} client events/s; ours-webhooks sends each as a webhook`,
  targets: ["ours", "ours-webhooks", "ceiling"],
  comparisons: [
    ["ours", "ceiling"],
    ["ours-webhooks", "ceiling"],
    ["ours-webhooks", "ours"],
  ],

  async run({ target, options, generator }) {
    const members = Array.from({ length: options.procs }, (_, i) => generator(`hook${i}`));
    await openAll(members, options.hookSenders, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: "private-busy-", groupSize: options.hookSenders },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    const before = await webhookCounters(target);
    const talking = members.map((member) =>
      member.call(
        "chatter",
        { ratePerSocket: options.hookRate, durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS, payloadBytes: options.payloadBytes },
        CALL_TIMEOUT_MS,
      ),
    );
    const window = await measure(target, members, options.warmupMs, options.durationMs);
    await Promise.all(talking);
    const after = await webhookCounters(target);

    const { load } = window;
    const seconds = window.wallSeconds;
    return {
      metrics: [
        metric("clientEventsPerSec", "client events sent/s", "/s", load.sent / seconds, null),
        metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
        metric("offeredPerSec", "offered deliveries/s", "/s", (load.sent * (options.hookSenders - 1)) / seconds, null),
        ...latency("latency", "end-to-end latency", load.latency),
        ...serverCpu(window, load.received, "deliveries"),
        metric("webhooksSent", "webhook events delivered (whole run)", "", after.sent - before.sent, null),
        metric("webhooksDropped", "webhook events dropped (whole run)", "", after.dropped - before.dropped + after.failed - before.failed, null),
        generatorCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
