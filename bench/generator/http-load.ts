import type { HttpLoadParams } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import { padding, trigger } from "./trigger.ts";

/**
 * Closed loop: `clients` keep-alive callers, each sending its next trigger when the last returns,
 * until `durationMs` is up or, when set, `maxCount` triggers have been sent by all of them together.
 */
export async function httpLoad(params: HttpLoadParams, metrics: Metrics, halted: () => boolean): Promise<void> {
  const pad = padding(params.payloadBytes);
  const end = performance.now() + params.durationMs;
  const channels = [params.channel];
  const limit = params.maxCount ?? Number.POSITIVE_INFINITY;
  let issued = 0;
  const client = async () => {
    while (issued < limit && performance.now() < end && !halted()) {
      issued++;
      await trigger(params, channels, pad, metrics);
    }
  };
  await Promise.all(Array.from({ length: params.clients }, client));
}
