/**
 * What the HTTP handlers read of a request. Bun's `Request` is one as it is; the Node transport
 * builds a lighter one, since undici's `Request` costs more than the rest of a trigger's work there.
 */
export interface HttpRequest {
  readonly method: string;
  readonly headers: { get(name: string): string | null };
  bytes(): Promise<Uint8Array>;
}
