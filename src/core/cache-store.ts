/**
 * The last event of each cache channel, kept independently of subscribers (as Pusher does) for
 * `ttlMs`, at most `capacity` channels per app; the least recently written entry goes first.
 */
export class CacheStore {
  private readonly entries = new Map<string, { frame: string; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity: number,
  ) {}

  set(channel: string, frame: string, now: number): void {
    this.entries.delete(channel);
    this.entries.set(channel, { frame, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }

  get(channel: string, now: number): string | null {
    const entry = this.entries.get(channel);
    if (!entry) return null;
    if (entry.expiresAt <= now) {
      this.entries.delete(channel);
      return null;
    }
    return entry.frame;
  }

  /** Drops expired entries; called from the periodic sweep so memory follows the TTL. */
  prune(now: number): void {
    for (const [channel, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(channel);
    }
  }
}
