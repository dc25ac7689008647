import type { Subprocess } from "bun";
import { withTimeout } from "./clock.ts";

/** Enough for a server to close 20k sockets and write a CPU profile. */
const GRACE_MS = 5_000;

/**
 * Every process the runner starts, so that each one is stopped at the end of its run and again,
 * whatever is left, when the runner finishes or fails.
 */
export class Children {
  private readonly live = new Set<Subprocess>();

  track<T extends Subprocess>(child: T): T {
    this.live.add(child);
    void child.exited.then(() => this.live.delete(child));
    return child;
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(child: Subprocess): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      try {
        await withTimeout(child.exited, GRACE_MS, `pid ${child.pid} to exit`);
      } catch {
        child.kill("SIGKILL");
        await withTimeout(child.exited, GRACE_MS, `pid ${child.pid} to die`).catch(() => undefined);
      }
    }
    this.live.delete(child);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((child) => this.stop(child)));
  }

  /** Last resort on a signal: no awaiting, just kill what is left. */
  killAllNow(): void {
    for (const child of this.live) child.kill("SIGKILL");
  }
}
