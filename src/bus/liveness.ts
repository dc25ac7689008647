import type Redis from "ioredis";

/**
 * Asks a ready connection for a PING every quarter of `timeoutMs` and calls `onStall` once an
 * answer is `timeoutMs` overdue. A stopped or wedged Redis keeps its TCP connections open, so
 * without this the link would look up while commands pile up unanswered. Returns the stopper.
 */
export function watchLiveness(redis: Redis, timeoutMs: number, onStall: () => void): () => void {
  const interval = Math.max(25, Math.floor(timeoutMs / 4));
  /** When the outstanding PING was sent; 0 when none is. */
  let waitingSince = 0;
  /** Answers to PINGs sent before a stall or a reconnection no longer count. */
  let round = 0;
  let lastTick = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    // A late tick means this thread was blocked: the answer may be read but not yet handled.
    const late = now - lastTick > 2 * interval;
    lastTick = now;
    if (redis.status !== "ready") {
      waitingSince = 0;
      round++;
      return;
    }
    if (waitingSince === 0) {
      const mine = ++round;
      waitingSince = now;
      redis.ping().then(
        () => {
          if (mine === round) waitingSince = 0;
        },
        () => {},
      );
      return;
    }
    if (late || now - waitingSince < timeoutMs) return;
    waitingSince = 0;
    round++;
    onStall();
  }, interval);
  return () => clearInterval(timer);
}
