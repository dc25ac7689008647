import { METRICS_TOKEN, type Target } from "../lib/targets.ts";
import { chatterResult, runChatter } from "./chatter.ts";
import { metric } from "./metrics.ts";
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

  async run(context) {
    const { target, options } = context;
    // Only client_event hooks are configured: opening the rooms sends none.
    const before = await webhookCounters(target);
    const load = { name: "hook", senders: options.hookSenders, groupSize: options.hookSenders, rate: options.hookRate, channelPrefix: "private-busy-" };
    const window = await runChatter(context, load);
    const after = await webhookCounters(target);
    return chatterResult(window, options.hookSenders, [
      metric("webhooksSent", "webhook events delivered (whole run)", "", after.sent - before.sent, null),
      metric("webhooksDropped", "webhook events dropped (whole run)", "", after.dropped - before.dropped + after.failed - before.failed, null),
    ]);
  },
};
