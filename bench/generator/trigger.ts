import { wallMs } from "../lib/clock.ts";
import { stamp, type Credentials } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import { signedEventUrl } from "./signed-api.ts";

const HEADERS = { "Content-Type": "application/json" };
/** A stuck request must not outlive the run. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface TriggerTarget {
  apiBase: string;
  credentials: Credentials;
  payloadBytes: number;
}

/** Filler so the event data is about `payloadBytes` long (the stamp itself is ~20 bytes). */
export function padding(payloadBytes: number): string {
  return "x".repeat(Math.max(0, payloadBytes - 20));
}

/**
 * One signed trigger, timed from just before signing to the response body: what a Laravel app's
 * broadcast call waits for. The send stamp in `data` lets receivers time delivery end to end.
 */
export async function trigger(target: TriggerTarget, channels: string[], pad: string, metrics: Metrics): Promise<void> {
  const started = wallMs();
  const body = JSON.stringify({ name: "bench-event", data: `${stamp(started)}${pad}`, channels });
  try {
    const response = await fetch(signedEventUrl(target.apiBase, target.credentials, body), {
      method: "POST",
      body,
      headers: HEADERS,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    if (response.ok) metrics.completed(wallMs() - started);
    else metrics.error(`HTTP ${response.status}`);
  } catch (error) {
    metrics.error((error as Error).message);
  }
}
