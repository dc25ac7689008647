import type { HttpLoadParams } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import { padding, trigger } from "./trigger.ts";

/** Closed loop: `clients` keep-alive callers, each sending its next trigger when the last returns. */
export async function httpLoad(params: HttpLoadParams, metrics: Metrics): Promise<void> {
  const pad = padding(params.payloadBytes);
  const end = performance.now() + params.durationMs;
  const channels = [params.channel];
  const client = async () => {
    while (performance.now() < end) await trigger(params, channels, pad, metrics);
  };
  await Promise.all(Array.from({ length: params.clients }, client));
}
