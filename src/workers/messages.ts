import type { Config } from "../config/schema.ts";

/**
 * What the primary and its workers say to each other over Bun's IPC (JSON serialization: measured
 * faster than structured clone for these small shapes, see shared/docs/workers-notes.md).
 */

/** Primary → worker. */
export type ToWorker =
  /** The first message: everything a worker needs to start listening. */
  | { t: "start"; index: number; config: Config }
  /**
   * Bus envelopes from the other workers, in order. `dropped`: envelopes for this worker the
   * primary refused since the last batch, because this worker was `maxBacklog` behind.
   */
  | { t: "bus"; texts: string[]; dropped: number };

/** Worker → primary. */
export type FromWorker =
  /** Listening on `port` (the first worker picks it when the configured port is 0). */
  | { t: "listening"; port: number; node: string }
  /** `reverb-uws restart` reached this worker through the Redis fleet: the whole box restarts. */
  | { t: "restart" }
  /** Bus envelopes for every other worker. */
  | { t: "bus"; texts: string[] }
  /** How many envelopes the primary sent this worker it has applied in all. */
  | { t: "applied"; total: number };

/** Set in a worker's environment; its value is the worker's index. */
export const WORKER_ENV = "REVERB_WORKER_INDEX";
