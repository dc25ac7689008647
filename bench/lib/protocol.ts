/**
 * The runner ↔ generator contract over Bun's IPC channel: one request, one reply, matched by id.
 * Generators never decide anything; the runner tells each one what to open and when to load.
 */

/** Which channel socket `index` (global across generators) joins. */
export interface ChannelPlan {
  /** Channel name, or its prefix when `groupSize` is set. */
  prefix: string;
  /** Sockets per channel: socket i joins `${prefix}${floor(i / groupSize)}`; null = all on `prefix`. */
  groupSize: number | null;
}

export interface Credentials {
  appId: string;
  key: string;
  secret: string;
}

export interface OpenParams {
  wsUrl: string;
  count: number;
  /** Global index of this generator's first socket, so channel names and user ids are unique. */
  offset: number;
  /** Opens in flight at once: bounds the SYN burst and the server's accept queue. */
  concurrency: number;
  /** null: connect only, subscribe to nothing. */
  channel: ChannelPlan | null;
  credentials: Credentials;
  timeoutMs: number;
  /**
   * Pinning (scenarios/bus.ts): stop once this many sockets are established, out of at most
   * `count` attempts. An attempt that gets no `connection_established` in `timeoutMs` is closed
   * and counted as missed, not failed; the n-th socket established takes channel index offset + n.
   */
  want?: number;
}

export interface OpenResult {
  /** Attempts that timed out before `connection_established` (pinning only). */
  missed?: number;
  opened: number;
  failed: number;
  firstError: string | null;
  /** Wall seconds from the first open to the last connection_established. */
  connectSeconds: number;
  /** Wall seconds for the whole phase, subscriptions included. */
  totalSeconds: number;
  /** This generator's CPU seconds over the phase: shows when the client limited the rate. */
  cpuSeconds: number;
}

export interface PublishParams {
  apiBase: string;
  credentials: Credentials;
  /** Channels, cycled through `perRequest` at a time. */
  channels: string[];
  perRequest: number;
  /** HTTP requests per second, open loop. */
  ratePerSecond: number;
  maxInFlight: number;
  durationMs: number;
  payloadBytes: number;
}

export interface HttpLoadParams {
  apiBase: string;
  credentials: Credentials;
  channel: string;
  /** Closed-loop clients, each one keep-alive request at a time. */
  clients: number;
  durationMs: number;
  /** Stop after this many triggers (all clients together), even if `durationMs` is not up. */
  maxCount?: number;
  payloadBytes: number;
}

export interface ChatterParams {
  /** Client events per second per socket. */
  ratePerSocket: number;
  durationMs: number;
  payloadBytes: number;
}

export interface PausedOpenParams {
  wsUrl: string;
  channel: string;
  count: number;
  concurrency: number;
  timeoutMs: number;
}

export interface PausedOpenResult {
  opened: number;
  failed: number;
  firstError: string | null;
}

export interface PausedResumeParams {
  /** Longest to read on before counting the sockets still open. */
  waitMs: number;
}

export interface PausedResumeResult {
  /** "close 4100", "closed, no close frame", "still open" → sockets. */
  outcomes: Record<string, number>;
}

export interface ChurnParams {
  durationMs: number;
}

/** Counters since the last `mark`. */
export interface Snapshot {
  /** Timestamped bench frames received (deliveries). */
  received: number;
  /** End-to-end latency of those deliveries (µs buckets, see histogram.ts). */
  latency: number[];
  /** Requests or client events sent, joins completed, etc. — what the role produces. */
  sent: number;
  failed: number;
  /** Latency of what the role itself times (HTTP round trip, subscribe → succeeded). */
  requestLatency: number[];
  /** Frames without a send stamp that nobody waited for (presence member_added/removed). */
  otherFrames: number;
  /** This generator's CPU (user + system) and the wall time it covers. */
  cpuSeconds: number;
  wallSeconds: number;
  /** Sockets closed by the server since they opened. */
  closed: number;
  firstError: string | null;
  /** Wall clock (lib/clock.ts) of the latest delivery and of the latest completed request; 0: none. */
  lastDeliveredAt: number;
  lastCompletedAt: number;
}

export interface Methods {
  open: { params: OpenParams; result: OpenResult };
  mark: { params: null; result: null };
  snapshot: { params: null; result: Snapshot };
  publish: { params: PublishParams; result: null };
  http: { params: HttpLoadParams; result: null };
  chatter: { params: ChatterParams; result: null };
  churn: { params: ChurnParams; result: null };
  /** Ends the `publish` and `http` loads running now, at their next step. */
  halt: { params: null; result: null };
  closeAll: { params: null; result: null };
  /** Opens sockets that subscribe and then stop reading. */
  openPaused: { params: PausedOpenParams; result: PausedOpenResult };
  /** Reads on them again and reports how the server closed each. */
  resumePaused: { params: PausedResumeParams; result: PausedResumeResult };
}

export type MethodName = keyof Methods;

export interface Request<M extends MethodName = MethodName> {
  id: number;
  method: M;
  params: Methods[M]["params"];
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The marker around a send timestamp in event data: cheap to find without parsing JSON. */
export const STAMP_OPEN = "T~";
export const STAMP_CLOSE = "~";

export function stamp(wallMs: number): string {
  return `${STAMP_OPEN}${wallMs.toFixed(3)}${STAMP_CLOSE}`;
}

/** The send time in a frame, or NaN when the frame carries none. */
export function readStamp(frame: string): number {
  const start = frame.indexOf(STAMP_OPEN);
  if (start === -1) return Number.NaN;
  const end = frame.indexOf(STAMP_CLOSE, start + STAMP_OPEN.length);
  return Number(frame.slice(start + STAMP_OPEN.length, end));
}
