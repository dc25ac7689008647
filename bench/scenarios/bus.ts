import { sleep } from "../lib/clock.ts";
import type { GeneratorHandle } from "../lib/generator-handle.ts";
import { quantileMs } from "../lib/histogram.ts";
import { treePids } from "../lib/procfs.ts";
import type { OpenParams } from "../lib/protocol.ts";
import { CREDENTIALS, WORKERS_KINDS, type Target } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure, type Window } from "./measure.ts";
import { metric } from "./metrics.ts";
import type { Metric, Scenario } from "./types.ts";

/** Attempts per socket wanted: half land on the stopped worker, so 4× leaves a wide margin. */
const ATTEMPTS_PER_WANTED = 4;
/** An attempt that lands on the stopped worker waits this long for connection_established. */
const PIN_TIMEOUT_MS = 1_000;
const PIN_CONCURRENCY = 500;
const PREFIX = "private-bus-";

/**
 * Opens `want` sockets on the worker that is *not* `stopped`: the other worker is SIGSTOPped for
 * the opening, so connections the kernel hands it get no `connection_established` and are closed
 * after PIN_TIMEOUT_MS, and the ones that succeed are on the running worker. The stop lasts about
 * PIN_TIMEOUT_MS (box heartbeats tolerate `node_timeout`, 10 s). The sockets the stopped worker
 * accepts late are already closed by then.
 */
async function openPinned(holder: GeneratorHandle, target: Target, stopped: number, want: number, groupSize: number): Promise<number> {
  const params: OpenParams = {
    wsUrl: target.wsUrl,
    count: want * ATTEMPTS_PER_WANTED,
    offset: 0,
    concurrency: Math.min(PIN_CONCURRENCY, want * 2),
    channel: { prefix: PREFIX, groupSize },
    credentials: CREDENTIALS,
    timeoutMs: PIN_TIMEOUT_MS,
    want,
  };
  process.kill(stopped, "SIGSTOP");
  let opened: number;
  try {
    const result = await holder.call("open", params, CALL_TIMEOUT_MS);
    if (result.failed > 0) throw new Error(`${result.failed} pinned sockets failed to subscribe: ${result.firstError}`);
    opened = result.opened;
  } finally {
    process.kill(stopped, "SIGCONT");
  }
  if (opened < want) throw new Error(`only ${opened} of ${want} sockets landed on the running worker`);
  return opened;
}

interface Phase {
  window: Window;
  /** CPU seconds in the window: the receivers' worker, the other worker, the primary (NaN for one process). */
  receiverWorker: number;
  otherWorker: number;
  primary: number;
}

/** `senders` whisper at `rate` in all for warm-up + window + tail, measured at `receivers`. */
async function phase(
  target: Target,
  receivers: GeneratorHandle,
  senders: GeneratorHandle,
  channels: number,
  rate: number,
  home: number | null,
  options: { warmupMs: number; durationMs: number; payloadBytes: number },
): Promise<Phase> {
  const talking = senders.call(
    "chatter",
    { ratePerSocket: rate / channels, durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS, payloadBytes: options.payloadBytes },
    CALL_TIMEOUT_MS,
  );
  const window = await measure(target, [receivers, senders], options.warmupMs, options.durationMs);
  await talking;
  if (home === null) return { window, receiverWorker: window.serverCpuSeconds, otherWorker: Number.NaN, primary: Number.NaN };
  // window.split: the primary, then the workers by pid.
  const workers = treePids(target.pid).slice(1).sort((a, b) => a - b);
  let receiverWorker = Number.NaN;
  let otherWorker = 0;
  workers.forEach((pid, i) => {
    const seconds = window.split[i + 1] ?? Number.NaN;
    if (pid === home) receiverWorker = seconds;
    else otherWorker += seconds;
  });
  return { window, receiverWorker, otherWorker, primary: window.split[0] ?? Number.NaN };
}

function perMillion(p: Phase, seconds: number): number {
  return p.window.load.received > 0 ? seconds / (p.window.load.received / 1e6) : Number.NaN;
}

function phaseMetrics(key: string, label: string, p: Phase): Metric[] {
  const { window } = p;
  return [
    metric(`${key}DeliveriesPerSec`, `${label}: deliveries/s`, "/s", window.load.received / window.wallSeconds, "higher"),
    metric(`${key}P50Ms`, `${label}: latency p50`, "ms", quantileMs(window.load.latency, 0.5), "lower"),
    metric(`${key}P99Ms`, `${label}: latency p99`, "ms", quantileMs(window.load.latency, 0.99), "lower"),
    metric(`${key}CpuPerMillion`, `${label}: server CPU per 1M deliveries (all its processes)`, "CPU-s", perMillion(p, window.serverCpuSeconds), "lower"),
    metric(`${key}ReceiverCpuPerMillion`, `${label}: … the receivers' worker`, "CPU-s", perMillion(p, p.receiverWorker), "lower"),
    metric(`${key}OtherCpuPerMillion`, `${label}: … the other worker`, "CPU-s", perMillion(p, p.otherWorker), "lower"),
    metric(`${key}PrimaryCpuPerMillion`, `${label}: … the primary (relay)`, "CPU-s", perMillion(p, p.primary), "lower"),
    metric(`${key}ServerCpuPct`, `${label}: server CPU`, "% of a core", (window.serverCpuSeconds / window.wallSeconds) * 100, null),
    metric(`${key}GeneratorsCpuPct`, `${label}: both generators' CPU`, "% of a core", (window.load.cpuSeconds / window.load.wallSeconds) * 100, null),
  ];
}

/**
 * The bus's cost to a worker: client events from senders on the *other* worker (every delivery
 * crossed the box bus: sender's worker → primary → receivers' worker) next to the same load from
 * senders on the receivers' own worker (no bus), in one server run. Each sender is alone on its
 * channel with `--bus-group` receivers, so with the default 1 every event is one delivery: the
 * bus's worst case, one envelope per delivery.
 */
export const bus: Scenario = {
  name: "bus",
  title: "Box bus cost (cross-worker vs local deliveries)",
  describe: (o) =>
    `${o.busReceivers} receivers pinned on one worker in private channels of ${o.busGroup}, 1 sender per channel, ${o.busRate} client events/s in all: senders on the other worker, then on the receivers' worker`,
  targets: ["ours", ...WORKERS_KINDS],
  defaultTargets: ["ours", "ours-w2"],
  comparisons: [["ours-w2", "ours"]],
  extraMs: (o) => o.warmupMs + o.durationMs + 20_000,

  async run({ target, options, generator }) {
    const channels = Math.ceil(options.busReceivers / options.busGroup);
    const workers = treePids(target.pid).slice(1).sort((a, b) => a - b);
    const notes: string[] = [];
    const noteOf = (name: string, p: Phase) => {
      if (p.window.load.closed > 0) notes.push(`${name}: ${p.window.load.closed} socket(s) closed by the server`);
      if (p.window.load.generatorCpuMax > 0.9) notes.push(`${name}: a generator used ${(p.window.load.generatorCpuMax * 100).toFixed(0)}% of a core`);
    };

    if (workers.length < 2) {
      // One process (`ours`): the same load with no bus at all, for reference.
      const receivers = generator("bus-rx");
      const senders = generator("bus-tx");
      const open = (holder: GeneratorHandle, count: number, groupSize: number) =>
        holder.call("open", { wsUrl: target.wsUrl, count, offset: 0, concurrency: 100, channel: { prefix: PREFIX, groupSize }, credentials: CREDENTIALS, timeoutMs: 10_000 }, CALL_TIMEOUT_MS);
      await open(receivers, options.busReceivers, options.busGroup);
      await open(senders, channels, 1);
      await sleep(500);
      const local = await phase(target, receivers, senders, channels, options.busRate, null, options);
      noteOf("local", local);
      return { metrics: phaseMetrics("local", "local", local), notes };
    }

    const [home, away] = [workers[1]!, workers[0]!]; // receivers on worker 1, cross senders on worker 0
    const receivers = generator("bus-rx");
    await openPinned(receivers, target, away, options.busReceivers, options.busGroup);
    const crossSenders = generator("bus-tx-cross");
    await openPinned(crossSenders, target, home, channels, 1);
    await sleep(500);
    const cross = await phase(target, receivers, crossSenders, channels, options.busRate, home, options);
    await crossSenders.call("closeAll", null, CALL_TIMEOUT_MS);
    await sleep(1_000);

    const localSenders = generator("bus-tx-local");
    await openPinned(localSenders, target, away, channels, 1);
    await sleep(500);
    const local = await phase(target, receivers, localSenders, channels, options.busRate, home, options);
    noteOf("cross", cross);
    noteOf("local", local);

    const crossBox = perMillion(cross, cross.window.serverCpuSeconds);
    const localBox = perMillion(local, local.window.serverCpuSeconds);
    return {
      metrics: [
        ...phaseMetrics("cross", "cross-worker", cross),
        ...phaseMetrics("local", "local", local),
        metric("crossLocalBox", "server CPU per delivery, cross / local", "×", crossBox / localBox, "lower"),
        metric("busExtraPerMillion", "server CPU per 1M deliveries, cross − local", "CPU-s", crossBox - localBox, "lower"),
      ],
      notes,
    };
  },
};
