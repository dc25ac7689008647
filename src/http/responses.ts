const JSON_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-cache, private" };

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
}

/** Errors carry a JSON body so SDKs that print it show something readable. */
export function httpError(status: number, error: string, headers?: Record<string, string>): Response {
  return json({ error }, status, headers);
}

/**
 * The request's URL plus its declared body: what `max_request_size` caps. Headers are left to
 * Bun's own limit; walking them cost more than the rest of an API call's bookkeeping.
 */
export function declaredRequestSize(request: Request, url: URL): number {
  return url.pathname.length + url.search.length + Number(request.headers.get("content-length") ?? 0);
}
