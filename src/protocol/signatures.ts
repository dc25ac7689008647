import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export function hmacSha256Hex(secret: string, message: string): string {
  return createHmac("sha256", secret).update(message).digest("hex");
}

export function md5Hex(body: string | Uint8Array): string {
  return createHash("md5").update(body).digest("hex");
}

/** Constant-time for equal lengths; a length mismatch says nothing about the secret. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function channelAuthString(socketId: string, channel: string, channelData: string | null): string {
  return channelData ? `${socketId}:${channel}:${channelData}` : `${socketId}:${channel}`;
}

/** The `auth` value a Laravel/Pusher auth endpoint returns: `key:hex`. */
export function signChannel(key: string, secret: string, socketId: string, channel: string, channelData: string | null = null): string {
  return `${key}:${hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData))}`;
}

/**
 * Reverb compares only what follows the first `:` (the key part is not checked) and accepts a
 * bare signature; we keep that so every client that works with Reverb works here.
 */
export function verifyChannelAuth(
  secret: string,
  socketId: string,
  channel: string,
  channelData: string | null,
  auth: string | null,
): boolean {
  if (!auth) return false;
  const colon = auth.indexOf(":");
  const given = colon === -1 ? auth : auth.slice(colon + 1);
  return safeEqual(hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData)), given);
}

/** Query parameters that are never part of the signed string. */
const UNSIGNED_PARAMS = new Set(["auth_signature", "body_md5", "appId", "appKey", "channelName"]);

/**
 * The HTTP API string to sign: `METHOD\nPATH\nsorted query`, with `body_md5` of the raw body when
 * there is one, keys sorted byte-wise, pairs joined unencoded.
 */
export function apiStringToSign(method: string, path: string, params: URLSearchParams, bodyMd5: string | null): string {
  const entries = new Map<string, string[]>();
  for (const [key, value] of params) {
    if (UNSIGNED_PARAMS.has(key)) continue;
    const list = entries.get(key);
    if (list) list.push(value);
    else entries.set(key, [value]);
  }
  if (bodyMd5 !== null) entries.set("body_md5", [bodyMd5]);
  const query = [...entries.keys()]
    .sort()
    .map((key) => `${key}=${entries.get(key)!.join(",")}`)
    .join("&");
  return `${method}\n${path}\n${query}`;
}
