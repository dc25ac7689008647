/**
 * A PROPOSAL, not used by the server: the HTTP API signature check with the same rules as
 * src/http/verify-signature.ts, but without URLSearchParams, a Map, Buffer copies or node:crypto
 * objects on the common path. Pusher SDKs send only plain [A-Za-z0-9_.] params, so a query with
 * no '%' or '+' is split by hand; anything else takes the URLSearchParams path.
 * Measured by handler-cost.ts (in process) and ablation.ts (variant bare-sig-lean).
 */

const TIMESTAMP_WINDOW_S = 600;
const UNSIGNED = new Set(["auth_signature", "body_md5", "appId", "appKey", "channelName"]);

function pairsOf(search: string): Array<[string, string]> {
  const query = search.startsWith("?") ? search.slice(1) : search;
  if (query.includes("%") || query.includes("+")) return [...new URLSearchParams(query)];
  const pairs: Array<[string, string]> = [];
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    pairs.push(eq === -1 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)]);
  }
  return pairs;
}

/** Both are lowercase hex digests of one length, so a char-code XOR loop is constant-time enough. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function leanSignatureProblem(
  app: { key: string; secret: string },
  method: string,
  paths: readonly string[],
  search: string,
  body: Uint8Array,
  nowMs: number,
): string | null {
  let signature: string | null = null;
  let authKey: string | null = null;
  let version: string | null = null;
  let timestamp: string | null = null;
  let givenMd5: string | null = null;
  const signed: Array<[string, string]> = [];
  for (const [key, value] of pairsOf(search)) {
    // First value wins for the checks, as URLSearchParams.get does.
    if (key === "auth_signature") signature ??= value;
    else if (key === "body_md5") givenMd5 ??= value;
    else if (key === "auth_key") authKey ??= value;
    else if (key === "auth_version") version ??= value;
    else if (key === "auth_timestamp") timestamp ??= value;
    if (!UNSIGNED.has(key)) signed.push([key, value]);
  }
  if (!signature) return "auth_signature is missing";
  if (authKey !== app.key) return "auth_key is not the app key";
  if (version !== "1.0") return "auth_version must be 1.0";
  const seconds = Number(timestamp);
  if (timestamp === null || !Number.isFinite(seconds) || Math.abs(nowMs / 1000 - seconds) > TIMESTAMP_WINDOW_S) {
    return "auth_timestamp is missing or more than 600 s from now";
  }
  const bodyMd5 = body.length > 0 ? new Bun.CryptoHasher("md5").update(body).digest("hex") : null;
  if (givenMd5 !== null && bodyMd5 !== null && givenMd5 !== bodyMd5) return "body_md5 does not match the body";
  if (bodyMd5 !== null) signed.push(["body_md5", bodyMd5]);

  // Stable sort keeps repeated keys in order; they are joined with "," as apiStringToSign does.
  signed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let query = "";
  for (let i = 0; i < signed.length; i++) {
    const [key, value] = signed[i]!;
    if (i > 0 && signed[i - 1]![0] === key) query += `,${value}`;
    else query += `${i === 0 ? "" : "&"}${key}=${value}`;
  }
  for (const path of paths) {
    const expected = new Bun.CryptoHasher("sha256", app.secret).update(`${method}\n${path}\n${query}`).digest("hex");
    if (sameHex(expected, signature)) return null;
  }
  return "auth_signature does not match";
}
