const JSON_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-cache, private" };

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
}

/** Errors carry a JSON body so SDKs that print it show something readable. */
export function httpError(status: number, error: string, headers?: Record<string, string>): Response {
  return json({ error }, status, headers);
}

/** Bytes of the request line and headers plus the declared body: what `max_request_size` caps. */
export function declaredRequestSize(request: Request, pathLength: number): number {
  let size = request.method.length + pathLength + 12;
  for (const [name, value] of request.headers) size += name.length + value.length + 4;
  return size + Number(request.headers.get("content-length") ?? 0);
}
