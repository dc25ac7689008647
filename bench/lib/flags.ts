import { parseArgs } from "node:util";
import type { ScenarioName } from "../scenarios/types.ts";
import type { TargetKind } from "./targets.ts";

/** Idle connections one server process takes: under its 20,000 fds with room for its own files. */
export const IDLE_PER_SERVER_PROCESS = 19_500;

export const SCENARIOS: readonly ScenarioName[] = ["fanout", "channels", "chatter", "presence", "idle", "http", "crossnode", "slow", "webhooks", "bus"];
/**
 * What `--scenario all` runs: crossnode needs redis-server and three servers, and slow lets the
 * ceiling grow by GBs, so both are asked for by name.
 */
const DEFAULT_SCENARIOS: readonly ScenarioName[] = ["fanout", "channels", "chatter", "presence", "idle", "http"];
const TARGETS: readonly TargetKind[] = ["ours", "ceiling", "ours-worker", "ours-inline", "ours-webhooks", "ours-node", "ours-w2", "ours-w3", "ours-w4"];

/** A generator process, like the server, cannot hold more than ~19.9k sockets (20k fds). */
const SOCKETS_PER_PROCESS = 19_000;

export interface BenchOptions {
  scenarios: ScenarioName[];
  /** null: each scenario's own targets (ours and ceiling; crossnode adds the two fleets). */
  targets: TargetKind[] | null;
  repeat: number;
  warmupMs: number;
  durationMs: number;
  /** Generator processes per scenario (receivers, chatters, HTTP clients). */
  procs: number;
  payloadBytes: number;
  subscribers: number;
  rate: number;
  channels: number;
  channelRate: number;
  channelsPerRequest: number;
  chatters: number;
  chatGroup: number;
  chatRate: number;
  hookSenders: number;
  hookRate: number;
  presence: number;
  presenceGroup: number;
  idle: number;
  idleProcs: number;
  httpClients: number;
  crossSubscribers: number;
  crossRate: number;
  /** Burst events after the crossnode window; 0 skips the burst. */
  burst: number;
  burstSubscribers: number;
  burstPayloadBytes: number;
  /** Percent of node B's main thread taken by lib/stall.ts while the burst is sent; 0: none. */
  burstStallPercent: number;
  burstMs: number;
  burstDrainMs: number;
  slowPaused: number;
  slowHealthy: number;
  slowRate: number;
  slowPayload: number;
  slowSeconds: number;
  busReceivers: number;
  busGroup: number;
  busRate: number;
  outDir: string;
  /** Directory for the servers' CPU profiles (bun --cpu-prof-md); null: no profiling. */
  profileDir: string | null;
}

/** name → [default, help]; the README documents the same list. */
const NUMBERS = {
  repeat: [2, "runs per scenario and target, in ABBA order; tables show the median"],
  warmup: [1, "seconds of load before the measured window"],
  duration: [5, "seconds of the measured window (idle: of the hold)"],
  procs: [2, "generator processes per scenario"],
  payload: [100, "bytes of event data"],
  subscribers: [5000, "fanout: subscribers of the one channel"],
  rate: [20, "fanout: events/s through the HTTP API"],
  channels: [2000, "channels: sockets, each on its own private channel"],
  "channel-rate": [1000, "channels: triggers/s"],
  "channels-per-request": [10, "channels: channels named by each trigger"],
  chatters: [1000, "chatter: sockets"],
  "chat-group": [4, "chatter: sockets per private channel"],
  "chat-rate": [5, "chatter: client events/s per socket"],
  "hook-senders": [200, "webhooks: sockets on the one busy private channel, each sending client events"],
  "hook-rate": [2, "webhooks: client events/s per socket (each one a webhook for ours-webhooks)"],
  presence: [400, "presence: members"],
  "presence-group": [20, "presence: members per presence channel"],
  idle: [19500, "idle: connections"],
  "idle-procs": [3, "idle: generator processes"],
  "http-clients": [4, "http and crossnode burst: concurrent keep-alive clients"],
  "cross-subscribers": [2000, "crossnode: subscribers of the one channel, on node B"],
  "cross-rate": [50, "crossnode: events/s through node A's HTTP API"],
  burst: [50_000, "crossnode: burst events, as fast as the API takes them (0: no burst)"],
  "burst-subscribers": [20, "crossnode: subscribers of the burst channel, on node B"],
  "burst-payload": [100, "crossnode: bytes of event data in the burst"],
  "burst-stall": [95, "crossnode: percent of node B's main thread kept busy while the burst is sent (0: none, at most 99)"],
  "burst-seconds": [15, "crossnode: longest the burst may take to send"],
  "burst-drain": [20, "crossnode: longest to wait for the burst's deliveries after the last send"],
  "slow-paused": [200, "slow: readers that subscribe and stop reading"],
  "slow-healthy": [20, "slow: readers that keep up"],
  "slow-rate": [500, "slow: events/s through the HTTP API"],
  "slow-payload": [1000, "slow: bytes of event data"],
  "bus-receivers": [1000, "bus: receivers pinned on one worker"],
  "bus-group": [1, "bus: receivers per channel (1: every event is one delivery, the bus's worst case)"],
  "bus-rate": [5000, "bus: client events/s in all, from senders pinned on the other worker, then on the same one"],
  "slow-seconds": [20, "slow: seconds of load with the paused readers (the kernel takes several MB each before the server buffers)"],
} as const satisfies Record<string, readonly [number, string]>;

export const USAGE = `npm run bench -- [flags]

  --${"scenario LIST".padEnd(22)}${SCENARIOS.join(",")} (default: all = all but crossnode, slow, webhooks, bus)
  --${"target LIST".padEnd(22)}${TARGETS.join(",")} (default: each scenario's own; crossnode runs all four)
${Object.entries(NUMBERS)
  .map(([name, [value, help]]) => `  --${name.padEnd(22)}${help} (default ${value})`)
  .join("\n")}
  --${"out DIR".padEnd(22)}where the JSON goes (default bench/results)
  --${"profile DIR".padEnd(22)}write each server's CPU profile (markdown) there; slows the servers
  --help`;

function list<T extends string>(text: string, allowed: readonly T[], what: string, all = allowed): T[] {
  if (text === "all") return [...all];
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`unknown ${what} "${item}" (expected ${allowed.join(", ")})`);
  }
  return items as T[];
}

/** Flags for which 0 means "none" rather than a mistake. */
const ZERO_ALLOWED: ReadonlySet<string> = new Set(["burst", "burst-stall"]);

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  const floor = ZERO_ALLOWED.has(name) ? value < 0 : value <= 0;
  if (!Number.isFinite(value) || floor) throw new Error(`--${name} must be a positive number, got "${text}"`);
  return value;
}

export function parseFlags(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: "string", default: "all" },
      target: { type: "string" },
      out: { type: "string", default: "bench/results" },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
      ...Object.fromEntries(Object.keys(NUMBERS).map((name) => [name, { type: "string" as const }])),
    },
    strict: true,
  });
  if (values.help) return "help";
  const raw = values as unknown as Record<string, string | undefined>;
  const n = (name: keyof typeof NUMBERS) => positive(name, raw[name], NUMBERS[name][0]);
  const int = (name: keyof typeof NUMBERS) => Math.round(n(name));

  const options: BenchOptions = {
    scenarios: list(values.scenario!, SCENARIOS, "scenario", DEFAULT_SCENARIOS),
    targets: values.target === undefined ? null : list(values.target, TARGETS, "target"),
    repeat: int("repeat"),
    warmupMs: n("warmup") * 1000,
    durationMs: n("duration") * 1000,
    procs: int("procs"),
    payloadBytes: int("payload"),
    subscribers: int("subscribers"),
    rate: n("rate"),
    channels: int("channels"),
    channelRate: n("channel-rate"),
    channelsPerRequest: int("channels-per-request"),
    chatters: int("chatters"),
    chatGroup: Math.max(2, int("chat-group")),
    chatRate: n("chat-rate"),
    hookSenders: int("hook-senders"),
    hookRate: n("hook-rate"),
    presence: int("presence"),
    presenceGroup: int("presence-group"),
    idle: int("idle"),
    idleProcs: int("idle-procs"),
    httpClients: int("http-clients"),
    crossSubscribers: int("cross-subscribers"),
    crossRate: n("cross-rate"),
    burst: int("burst"),
    burstSubscribers: int("burst-subscribers"),
    burstPayloadBytes: int("burst-payload"),
    burstStallPercent: Math.min(99, n("burst-stall")),
    burstMs: n("burst-seconds") * 1000,
    burstDrainMs: n("burst-drain") * 1000,
    slowPaused: int("slow-paused"),
    slowHealthy: int("slow-healthy"),
    slowRate: n("slow-rate"),
    slowPayload: int("slow-payload"),
    slowSeconds: n("slow-seconds"),
    busReceivers: int("bus-receivers"),
    busGroup: int("bus-group"),
    busRate: n("bus-rate"),
    outDir: values.out!,
    profileDir: values.profile ?? null,
  };
  for (const [what, sockets, procs] of [
    ["--subscribers", options.subscribers, options.procs],
    ["--cross-subscribers", options.crossSubscribers, options.procs],
    ["--burst-subscribers", options.burstSubscribers, 1],
    ["--channels", options.channels, options.procs],
    ["--chatters", options.chatters, options.procs],
    ["--hook-senders", options.hookSenders, options.procs],
    ["--presence", options.presence, options.procs],
    ["--idle", options.idle, options.idleProcs],
    ["--bus-receivers", options.busReceivers, 1],
    ["--slow-paused", options.slowPaused, 1],
    ["--slow-healthy", options.slowHealthy, 1],
  ] as const) {
    if (sockets / procs > SOCKETS_PER_PROCESS) {
      throw new Error(`${what} ${sockets} over ${procs} generator(s) is more than ${SOCKETS_PER_PROCESS} sockets per process; add generators`);
    }
  }
  // Past 19,500 the idle scenario gives each target at most 19,500 per serving process (the
  // ceiling and `ours` stop there; `ours-w2` takes up to 39,000), see scenarios/idle.ts.
  return options;
}
