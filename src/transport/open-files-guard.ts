import type { Logger } from "../log.ts";

/**
 * How long a socket the server closed may keep its file: after its close frame uWS waits up to
 * 4 s for the client's, so a client that never answers holds the file that long.
 */
const CLOSING_LINGER_MS = 5_000;
/** Refusals this far apart are separate bursts, each with its own warning. */
const BURST_GAP_MS = 10_000;

export interface OpenFilesGuardOptions {
  /** The process's open-files limit; null (unknown) turns the guard off. */
  limit: number | null;
  reserve: number;
  /** Files open before any connection: the runtime's own, the listening socket, logs. */
  baseline: number;
  log: Logger;
  clock?: () => number;
}

/**
 * Keeps WebSockets from using the last files below the open-files limit. At the limit itself
 * Bun's accept loop spins on EMFILE and nothing, `/up` included, gets an answer; below it every
 * new socket still gets one, even if that answer is 4100. Counts what it can see cheaply: sockets
 * from open to close, and the ones the server closed for as long as they may linger.
 */
export class OpenFilesGuard {
  readonly limit: number | null;
  readonly reserve: number;
  /** WebSockets refused because the reserve was reached, since start. */
  refused = 0;
  private held = 0;
  private readonly baseline: number;
  private readonly log: Logger;
  private readonly clock: () => number;
  private lastRefusal = -Infinity;
  /** Server-closed sockets per second, over the last CLOSING_LINGER_MS: a ring of one-second slots. */
  private readonly closingCounts = new Int32Array(Math.ceil(CLOSING_LINGER_MS / 1000) + 1);
  private readonly closingSeconds = new Float64Array(this.closingCounts.length).fill(-1);

  constructor(options: OpenFilesGuardOptions) {
    this.limit = options.limit;
    this.reserve = options.reserve;
    this.baseline = options.baseline;
    this.log = options.log;
    this.clock = options.clock ?? Date.now;
  }

  /** Files in use as far as the guard knows. */
  inUse(): number {
    return this.baseline + this.held + this.lingering(this.clock());
  }

  /** Whether one more WebSocket would reach into the reserve. */
  full(): boolean {
    return this.limit !== null && this.inUse() >= this.limit - this.reserve;
  }

  opened(): void {
    this.held++;
  }

  closed(): void {
    this.held--;
  }

  /** The server closed a socket, which may hold its file a few seconds more. */
  closing(): void {
    const second = Math.floor(this.clock() / 1000);
    const slot = second % this.closingCounts.length;
    if (this.closingSeconds[slot] !== second) {
      this.closingSeconds[slot] = second;
      this.closingCounts[slot] = 0;
    }
    this.closingCounts[slot]!++;
  }

  /**
   * A WebSocket was refused for want of files; the first of a burst is logged. Not counted as
   * closing: it took its file when accepted whatever the guard said, so counting it would only
   * turn away the next clients once room is back.
   */
  refusedOne(): void {
    this.refused++;
    const now = this.clock();
    if (now - this.lastRefusal > BURST_GAP_MS) {
      this.log.warn(
        `Over capacity: ${this.inUse()} of ${this.limit} open files in use (${this.reserve} kept in reserve); ` +
          `new WebSocket connections get 4100 until some close. Raise ulimit -n (see docs/production.md)`,
      );
    }
    this.lastRefusal = now;
  }

  private lingering(now: number): number {
    const oldest = Math.floor((now - CLOSING_LINGER_MS) / 1000);
    let count = 0;
    for (let slot = 0; slot < this.closingCounts.length; slot++) {
      if (this.closingSeconds[slot]! >= oldest) count += this.closingCounts[slot]!;
    }
    return count;
  }
}
