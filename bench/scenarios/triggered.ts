import type { GeneratorHandle } from "../lib/generator-handle.ts";
import { CREDENTIALS } from "../lib/targets.ts";
import { CALL_TIMEOUT_MS, LOAD_TAIL_MS, measure } from "./measure.ts";
import { generatorCpu, generatorsCpu, latency, loadNotes, metric, serverCpu } from "./metrics.ts";
import type { RunResult, ScenarioContext } from "./types.ts";

export interface TriggerPlan {
  channels: string[];
  /** Channels named in one POST /events. */
  perRequest: number;
  ratePerSecond: number;
  maxInFlight: number;
  /** Deliveries one trigger should cause: subscribers per channel × channels per request. */
  deliveriesPerTrigger: number;
}

/**
 * Events through the signed HTTP API at a fixed rate, measured at the subscribers already opened
 * by `receivers`: what fan-out and many-channels share.
 */
export async function runTriggeredLoad(
  { target, options }: ScenarioContext,
  receivers: GeneratorHandle[],
  publisher: GeneratorHandle,
  plan: TriggerPlan,
): Promise<RunResult> {
  const publishing = publisher.call(
    "publish",
    {
      apiBase: target.apiBase,
      credentials: CREDENTIALS,
      channels: plan.channels,
      perRequest: plan.perRequest,
      ratePerSecond: plan.ratePerSecond,
      maxInFlight: plan.maxInFlight,
      durationMs: options.warmupMs + options.durationMs + LOAD_TAIL_MS,
      payloadBytes: options.payloadBytes,
    },
    CALL_TIMEOUT_MS,
  );
  const window = await measure(target, [...receivers, publisher], options.warmupMs, options.durationMs);
  await publishing;

  const { load } = window;
  const sent = window.parts.at(-1)!.sent;
  const seconds = window.wallSeconds;
  return {
    metrics: [
      metric("deliveriesPerSec", "deliveries/s", "/s", load.received / seconds, "higher"),
      metric("offeredPerSec", "offered deliveries/s", "/s", (sent * plan.deliveriesPerTrigger) / seconds, null),
      ...latency("latency", "end-to-end latency", load.latency),
      ...latency("http", "trigger round trip", load.requestLatency),
      ...serverCpu(window, load.received, "deliveries"),
      generatorCpu(load),
      generatorsCpu(load),
    ],
    notes: loadNotes(load),
  };
}
