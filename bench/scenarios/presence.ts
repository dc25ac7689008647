import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll } from "./measure.ts";
import { generatorCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Scenario } from "./types.ts";

/**
 * Presence join/leave churn: every member leaves and re-joins as fast as the server answers.
 * Each join returns the member list and tells the room; each leave tells the room too.
 */
export const presence: Scenario = {
  name: "presence",
  title: "Presence churn",
  describe: (o) => `${o.presence} members in presence channels of ${o.presenceGroup}, each leaving and re-joining in a closed loop`,

  async run({ target, options, generator }) {
    const members = Array.from({ length: options.procs }, (_, i) => generator(`presence${i}`));
    await openAll(members, options.presence, {
      wsUrl: target.wsUrl,
      concurrency: 100,
      channel: { prefix: "presence-bench-", groupSize: options.presenceGroup },
      credentials: CREDENTIALS,
      timeoutMs: 10_000,
    });

    const churning = members.map((member) =>
      member.call("churn", { durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS }, CALL_TIMEOUT_MS),
    );
    const window = await measure(target, members, options.warmupMs, options.durationMs);
    await Promise.all(churning);

    const { load } = window;
    const seconds = window.wallSeconds;
    return {
      metrics: [
        metric("joinsPerSec", "joins/s", "/s", load.sent / seconds, "higher"),
        ...latency("join", "join (subscribe → succeeded)", load.requestLatency),
        metric("memberEventsPerSec", "member_added/removed received/s", "/s", load.otherFrames / seconds, null),
        ...serverCpu(window, load.sent, "joins"),
        generatorCpu(load),
      ],
      notes: loadNotes(load),
    };
  },
};
