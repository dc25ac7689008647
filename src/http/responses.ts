const JSON_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-cache, private" };

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
}

/** A body already serialized (built in slices, see paced-json.ts). */
export function jsonBody(body: Blob, status = 200): Response {
  return new Response(body, { status, headers: JSON_HEADERS });
}

/** Errors carry a JSON body so SDKs that print it show something readable. */
export function httpError(status: number, error: string, headers?: Record<string, string>): Response {
  return json({ error }, status, headers);
}
