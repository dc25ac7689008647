import type { AppState } from "../core/app-state.ts";
import { apiStringToSign, hmacSha256Hex, md5Hex, parseQuery, safeEqual } from "../protocol/signatures.ts";

/** Pusher's window for `auth_timestamp`, in seconds either side of now. */
const TIMESTAMP_WINDOW = 600;

export interface SignedRequest {
  method: string;
  /** The path as requested, and the same path without the configured prefix. */
  paths: readonly string[];
  /** The raw query string, `?` included or not. */
  search: string;
  body: Uint8Array;
  nowMs: number;
}

/** Null when the request is signed by `app`, otherwise why not (for the log, not the client). */
export function signatureProblem(app: AppState, request: SignedRequest): string | null {
  const params = parseQuery(request.search);
  if (params === null) return "the query string is not valid form encoding";
  // The first value of a repeated parameter counts, as URLSearchParams.get would have it.
  let signature: string | null = null;
  let key: string | null = null;
  let version: string | null = null;
  let stamp: string | null = null;
  let given: string | null = null;
  for (const [name, value] of params) {
    if (name === "auth_signature") signature ??= value;
    else if (name === "auth_key") key ??= value;
    else if (name === "auth_version") version ??= value;
    else if (name === "auth_timestamp") stamp ??= value;
    else if (name === "body_md5") given ??= value;
  }
  if (!signature) return "auth_signature is missing";
  if (key !== app.key) return "auth_key is not the app key";
  if (version !== "1.0") return "auth_version must be 1.0";
  const timestamp = Number(stamp ?? Number.NaN);
  if (!Number.isFinite(timestamp) || Math.abs(request.nowMs / 1000 - timestamp) > TIMESTAMP_WINDOW) {
    return "auth_timestamp is missing or more than 600 s from now";
  }
  const bodyMd5 = request.body.length > 0 ? md5Hex(request.body) : null;
  if (given !== null && bodyMd5 !== null && given !== bodyMd5) return "body_md5 does not match the body";
  // pusher-http-php signs the path without the server prefix; other clients sign what they request.
  for (const path of request.paths) {
    if (safeEqual(hmacSha256Hex(app.secret, apiStringToSign(request.method, path, params, bodyMd5)), signature)) return null;
  }
  return "auth_signature does not match";
}
