import * as crypto from "node:crypto";

// Every signed API call and private subscribe hashes: under Bun its native hasher is used, which
// allocates far less than node:crypto's stream-based objects; elsewhere node:crypto.
const bun = (globalThis as { Bun?: typeof Bun }).Bun;
/** Node's one-shot hash (20.12+), a third of a Hash object's cost on a trigger's body; older Nodes lack it. */
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

export const hmacSha256Hex: (secret: string, message: string) => string = bun
  ? (secret, message) => new bun.CryptoHasher("sha256", secret).update(message).digest("hex")
  : (secret, message) => crypto.createHmac("sha256", secret).update(message).digest("hex");

export const md5Hex: (body: string | Uint8Array) => string = bun
  ? (body) => bun.MD5.hash(body, "hex")
  : oneShot
    ? (body) => oneShot("md5", body, "hex")
    : (body) => crypto.createHash("md5").update(body).digest("hex");

/**
 * Compares every character whatever the first difference, so the time taken says nothing about
 * where a guess went wrong; a length mismatch says nothing about the secret either.
 */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export function channelAuthString(socketId: string, channel: string, channelData: string | null): string {
  return channelData ? `${socketId}:${channel}:${channelData}` : `${socketId}:${channel}`;
}

/** The `auth` value a Laravel/Pusher auth endpoint returns: `key:hex`. */
export function signChannel(key: string, secret: string, socketId: string, channel: string, channelData: string | null = null): string {
  return `${key}:${hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData))}`;
}

/**
 * `auth` is `key:signature`, and the key must be the app's own, as Pusher checks (Reverb looks
 * only at what follows the first `:`). A bare signature is still accepted, as Reverb accepts it,
 * so every client that works with Reverb works here; it proves the same knowledge of the secret.
 */
export function verifyChannelAuth(
  key: string,
  secret: string,
  socketId: string,
  channel: string,
  channelData: string | null,
  auth: string | null,
): boolean {
  if (!auth) return false;
  const colon = auth.indexOf(":");
  if (colon !== -1 && auth.slice(0, colon) !== key) return false;
  const given = colon === -1 ? auth : auth.slice(colon + 1);
  return safeEqual(hmacSha256Hex(secret, channelAuthString(socketId, channel, channelData)), given);
}

/**
 * `pusher:signin`'s `auth`: HMAC of `<socket_id>::user::<user_data>`, with the same `key:` rules
 * as channel auth.
 */
export function verifyUserAuth(key: string, secret: string, socketId: string, userData: string, auth: string | null): boolean {
  if (!auth) return false;
  const colon = auth.indexOf(":");
  if (colon !== -1 && auth.slice(0, colon) !== key) return false;
  const given = colon === -1 ? auth : auth.slice(colon + 1);
  return safeEqual(hmacSha256Hex(secret, `${socketId}::user::${userData}`), given);
}

/** The `auth` of a signin, as the server SDKs' `authenticateUser` makes it. */
export function signUser(key: string, secret: string, socketId: string, userData: string): string {
  return `${key}:${hmacSha256Hex(secret, `${socketId}::user::${userData}`)}`;
}

/** Query parameters that are never part of the signed string. */
const UNSIGNED_PARAMS = new Set(["auth_signature", "body_md5", "appId", "appKey", "channelName"]);

function byKey(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The HTTP API string to sign: `METHOD\nPATH\nsorted query`, with `body_md5` of the raw body when
 * there is one, keys sorted byte-wise (stable, so repeated keys keep their order and are joined
 * with `,`), pairs joined unencoded.
 */
export function apiStringToSign(method: string, path: string, params: Iterable<readonly [string, string]>, bodyMd5: string | null): string {
  const signed: Array<readonly [string, string]> = [];
  for (const pair of params) if (!UNSIGNED_PARAMS.has(pair[0])) signed.push(pair);
  if (bodyMd5 !== null) signed.push(["body_md5", bodyMd5]);
  signed.sort(byKey);
  let query = "";
  for (let i = 0; i < signed.length; i++) {
    const [key, value] = signed[i]!;
    if (i > 0 && signed[i - 1]![0] === key) query += `,${value}`;
    else query += `${i === 0 ? "" : "&"}${key}=${value}`;
  }
  return `${method}\n${path}\n${query}`;
}

function formDecode(text: string): string {
  return text.includes("%") || text.includes("+") ? decodeURIComponent(text.replaceAll("+", " ")) : text;
}

/**
 * Query pairs as form decoding gives them. SDKs send plain `[A-Za-z0-9_.]` values, so most
 * requests are cut without any decoding, by index rather than through `split`'s array of parts;
 * null for a malformed escape.
 */
export function parseQuery(search: string): Array<[string, string]> | null {
  const pairs: Array<[string, string]> = [];
  const end = search.length;
  let start = search.startsWith("?") ? 1 : 0;
  // The next `=` from `start` on (`end`: none), looked for again only once passed, so parts
  // without one do not each scan the rest of the query.
  let eq = -1;
  try {
    while (start < end) {
      let amp = search.indexOf("&", start);
      if (amp === -1) amp = end;
      if (eq < start) {
        eq = search.indexOf("=", start);
        if (eq === -1) eq = end;
      }
      if (amp > start) {
        pairs.push(eq >= amp ? [formDecode(search.slice(start, amp)), ""] : [formDecode(search.slice(start, eq)), formDecode(search.slice(eq + 1, amp))]);
      }
      start = amp + 1;
    }
  } catch {
    return null;
  }
  return pairs;
}
