/**
 * Pusher's grace delay: a leave (channel_vacated, member_removed) waits before it is sent, and a
 * return within the delay cancels both the leave and the join that follows, so a page reload
 * sends nothing.
 */
export const GRACE_MS = 3_000;

export class GraceTimers {
  private readonly pending = new Map<string, { timer: Timer; fire: () => void }>();

  constructor(private readonly delayMs = GRACE_MS) {}

  /** Runs `fire` after the delay unless `cancel(key)` comes first. */
  delay(key: string, fire: () => void): void {
    this.cancel(key);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      fire();
    }, this.delayMs);
    this.pending.set(key, { timer, fire });
  }

  /** True when a leave was waiting under `key`: the caller's join is then a return, not news. */
  cancel(key: string): boolean {
    const entry = this.pending.get(key);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    return true;
  }

  /** Fires every waiting leave now (a single node shutting down: nobody will come back to it). */
  fireAll(): void {
    for (const [key, entry] of this.pending) {
      clearTimeout(entry.timer);
      this.pending.delete(key);
      entry.fire();
    }
  }

  /** Forgets every waiting leave (the server stopped). */
  clear(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
  }
}
