import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, openAll, type Window } from "./measure.ts";
import { generatorCpu, generatorsCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { Metric, RunResult, Scenario, ScenarioContext } from "./types.ts";

/** Who talks: `senders` sockets in private rooms of `groupSize`, each sending `rate` client events/s. */
export interface ChatterLoad {
  name: string;
  senders: number;
  groupSize: number;
  rate: number;
  channelPrefix: string;
}

/** Opens the rooms, then has every member talk through warm-up and the measured window. */
export async function runChatter({ target, options, generator }: ScenarioContext, load: ChatterLoad): Promise<Window> {
  const members = Array.from({ length: options.procs }, (_, i) => generator(`${load.name}${i}`));
  await openAll(members, load.senders, {
    wsUrl: target.wsUrl,
    concurrency: 100,
    channel: { prefix: load.channelPrefix, groupSize: load.groupSize },
    credentials: CREDENTIALS,
    timeoutMs: 10_000,
  });
  const talking = members.map((member) =>
    member.call(
      "chatter",
      { ratePerSocket: load.rate, durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS, payloadBytes: options.payloadBytes },
      CALL_TIMEOUT_MS,
    ),
  );
  const window = await measure(target, members, options.warmupMs, options.durationMs);
  await Promise.all(talking);
  return window;
}

/** What a chatter window sent and delivered (every other member of a room gets each event), and its cost. */
export function chatterResult(window: Window, groupSize: number, extra: Metric[] = []): RunResult {
  const { load } = window;
  const seconds = window.wallSeconds;
  return {
    metrics: [
      metric("clientEventsPerSec", "client events sent/s", "/s", load.sent / seconds, null),
      metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
      metric("offeredPerSec", "offered deliveries/s", "/s", (load.sent * (groupSize - 1)) / seconds, null),
      ...latency("latency", "end-to-end latency", load.latency),
      ...serverCpu(window, load.received, "deliveries"),
      ...extra,
      generatorCpu(load),
      generatorsCpu(load),
    ],
    notes: loadNotes(load),
  };
}

/** Small private rooms where every member whispers: the server parses, checks membership, relays. */
export const chatter: Scenario = {
  name: "chatter",
  title: "Client-event chatter",
  describe: (o) =>
    `${o.chatters} sockets in private rooms of ${o.chatGroup}, each sending ${o.chatRate} client events/s`,

  async run(context) {
    const { options } = context;
    const load = { name: "chatter", senders: options.chatters, groupSize: options.chatGroup, rate: options.chatRate, channelPrefix: "private-chat-" };
    return chatterResult(await runChatter(context, load), options.chatGroup);
  },
};
