import { sleep } from "../lib/clock.ts";
import type { PublishParams } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import { padding, trigger } from "./trigger.ts";

/**
 * Open-loop triggers at `ratePerSecond`: the schedule does not wait for the server, so a slow
 * server shows up as latency (and, past `maxInFlight`, as a lower achieved rate), never as a
 * politely slower client.
 */
export async function publish(params: PublishParams, metrics: Metrics, halted: () => boolean): Promise<void> {
  const pad = padding(params.payloadBytes);
  const start = performance.now();
  const end = start + params.durationMs;
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let cursor = 0;

  const nextChannels = (): string[] => {
    const batch: string[] = [];
    for (let i = 0; i < params.perRequest; i++) {
      batch.push(params.channels[cursor]!);
      cursor = (cursor + 1) % params.channels.length;
    }
    return batch;
  };

  for (let now = start; now < end && !halted(); now = performance.now()) {
    const due = Math.floor(((now - start) / 1000) * params.ratePerSecond);
    while (issued < due && inFlight.size < params.maxInFlight) {
      issued++;
      const request = trigger(params, nextChannels(), pad, metrics).finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
}
