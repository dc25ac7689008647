import { hmacSha256Hex } from "../protocol/signatures.ts";

/** What came of one request: sent, worth retrying, or refused for good. */
export type PostOutcome = { readonly kind: "sent" } | { readonly kind: "retry" | "refused"; readonly reason: string };

/** Statuses Pusher's receivers use for "try again later"; any other 4xx will not change. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The request headers: the receiver's own first, then Pusher's, which win whatever the case of a
 * custom header's name, so a config cannot break the signature check.
 */
export function webhookHeaders(key: string, secret: string, body: string, custom: Readonly<Record<string, string>>): Headers {
  const headers = new Headers(custom);
  headers.set("Content-Type", "application/json");
  headers.set("X-Pusher-Key", key);
  headers.set("X-Pusher-Signature", hmacSha256Hex(secret, body));
  return headers;
}

/** POSTs one signed body; never throws. */
export async function postWebhook(url: string, headers: Headers, body: string, timeoutMs: number): Promise<PostOutcome> {
  try {
    const response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    // The body is not read: drop it so the connection can be reused.
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { kind: "sent" };
    return { kind: retryable(response.status) ? "retry" : "refused", reason: `HTTP ${response.status}` };
  } catch (error) {
    const name = (error as Error).name;
    const reason = name === "TimeoutError" || name === "AbortError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
    return { kind: "retry", reason };
  }
}
