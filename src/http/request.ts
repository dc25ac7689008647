/**
 * What the HTTP handlers read of a request. Bun's `Request` is one as it is; the Node transport
 * builds a lighter one, since undici's `Request` costs more than the rest of a trigger's work there.
 */
export interface HttpRequest {
  readonly method: string;
  readonly headers: { get(name: string): string | null };
  bytes(): Promise<Uint8Array>;
}

/**
 * What the handlers read of a request's URL. Bun's `URL` is one; the Node transport builds a
 * plainer one when `URL` would change nothing, as parsing one is a visible share of a trigger there.
 */
export type RequestUrl = Pick<URL, "pathname" | "search" | "searchParams">;
