import { apiStringToSign, hmacSha256Hex, md5Hex } from "../../src/protocol/signatures.ts";

export interface SignOptions {
  key: string;
  secret: string;
  timestamp?: number;
  /** Extra query parameters, signed too. */
  params?: Record<string, string>;
  /** Sign a different path than the one requested (the prefix case). */
  signedPath?: string;
}

/** The query string of a Pusher-signed request, built by hand for the failure tests. */
export function signedQuery(method: string, path: string, body: string, options: SignOptions): string {
  const params = new URLSearchParams({
    auth_key: options.key,
    auth_timestamp: String(options.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: "1.0",
    ...options.params,
  });
  const bodyMd5 = body === "" ? null : md5Hex(body);
  if (bodyMd5) params.set("body_md5", bodyMd5);
  params.set("auth_signature", hmacSha256Hex(options.secret, apiStringToSign(method, options.signedPath ?? path, params, bodyMd5)));
  return params.toString();
}

export async function signedFetch(baseUrl: string, method: string, path: string, body: unknown, options: SignOptions): Promise<Response> {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const query = signedQuery(method, path, text, options);
  return fetch(`${baseUrl}${path}?${query}`, {
    method,
    body: method === "GET" ? undefined : text,
    headers: { "Content-Type": "application/json" },
  });
}
