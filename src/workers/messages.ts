import type { BoxBatch, BoxDelivery } from "../bus/box-bus.ts";
import type { Config } from "../config/schema.ts";

/**
 * What the primary and its workers say to each other over Bun's IPC (JSON serialization: measured
 * faster than structured clone for these small shapes, see shared/docs/workers-notes.md).
 */

/** Primary → worker. */
export type ToWorker =
  /** The first message: everything a worker needs to start listening. */
  | { t: "start"; index: number; config: Config }
  /** Bus envelopes from the other workers, in order, and where the primary stands with ours. */
  | ({ t: "bus" } & BoxDelivery);

/** Worker → primary. */
export type FromWorker =
  /** Listening on `port` (the first worker picks it when the configured port is 0). */
  | { t: "listening"; port: number; node: string }
  /** `reverb-uws restart` reached this worker through the Redis fleet: the whole box restarts. */
  | { t: "restart" }
  /** Bus envelopes for the other workers, and this worker's changes of interest. */
  | ({ t: "bus" } & BoxBatch)
  /** How many envelopes the primary sent this worker it has applied in all. */
  | { t: "applied"; total: number };

/** Set in a worker's environment; its value is the worker's index. */
export const WORKER_ENV = "REVERB_WORKER_INDEX";
