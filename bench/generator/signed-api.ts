import { apiStringToSign, hmacSha256Hex, md5Hex } from "../../src/protocol/signatures.ts";
import type { Credentials } from "../lib/protocol.ts";

/**
 * A `POST /apps/{id}/events` signed the way pusher-http-php signs it. Signed per request: the
 * body carries a fresh send stamp, and signing is part of what a real broadcaster pays too.
 */
export function signedEventUrl(apiBase: string, credentials: Credentials, body: string): string {
  const path = `/apps/${credentials.appId}/events`;
  const bodyMd5 = md5Hex(body);
  const params = new URLSearchParams({
    auth_key: credentials.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000)),
    auth_version: "1.0",
    body_md5: bodyMd5,
  });
  params.set("auth_signature", hmacSha256Hex(credentials.secret, apiStringToSign("POST", path, params, bodyMd5)));
  return `${apiBase}${path}?${params}`;
}
