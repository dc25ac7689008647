/**
 * An HTTP answer as plain data, so each transport writes it the cheapest way its runtime allows:
 * Bun takes it as the `ResponseInit` of a `Response`, uWebSockets.js writes it field by field.
 * Nothing reads it after a transport has, so header objects may be shared between answers.
 */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A Blob only for answers built in slices (paced-json.ts). */
  readonly body: string | Blob;
}

/**
 * What a transport does last with an answer (Bun: make it a `Response`; uWS: write it). Handlers
 * that answer after a promise call it themselves, so no promise is chained per request to do so.
 */
export type Finish<R> = (answer: HttpAnswer) => R;

const JSON_HEADERS = { "Content-Type": "application/json", "Cache-Control": "no-cache, private" };

export function json(body: unknown, status = 200, headers?: Record<string, string>): HttpAnswer {
  return { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS, body: JSON.stringify(body) };
}

/** A body already serialized (built in slices, see paced-json.ts). */
export function jsonBody(body: Blob, status = 200): HttpAnswer {
  return { status, headers: JSON_HEADERS, body };
}

/** Errors carry a JSON body so SDKs that print it show something readable. */
export function httpError(status: number, error: string, headers?: Record<string, string>): HttpAnswer {
  return json({ error }, status, headers);
}
