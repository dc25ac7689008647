import type { Logger } from "../log.ts";
import type { RunningServer } from "../server.ts";

/** A server, or the primary of a box of workers. */
export type Drainable = Pick<RunningServer, "drain">;

/**
 * Drains once, whatever asks first (a signal, or a restart through the fleet), then exits 0 so
 * the process manager starts a fresh server.
 */
export function createShutdown(server: () => Drainable, log: Logger, timeoutSeconds: number): (why: string) => void {
  let draining = false;
  return (why) => {
    if (draining) return;
    draining = true;
    log.info(`${why}: gracefully terminating connections (up to ${timeoutSeconds} s)`);
    void server()
      .drain("Server restarting", timeoutSeconds * 1000)
      .then(() => {
        log.info("Stopped");
        process.exit(0);
      });
  };
}

/** SIGINT and SIGTERM stop the server; SIGHUP is what `reverb-uws restart` sends. */
export function onSignals(shutdown: (why: string) => void): void {
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("Restart requested"));
}
