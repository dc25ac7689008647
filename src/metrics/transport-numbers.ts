import type { BufferLimit } from "../transport/outbound-buffers.ts";

/** What the transport's guards count: open files and slow consumers. */
export interface TransportNumbers {
  /** Null where the open-files limit is unknown (no /proc). */
  openFiles: { inUse: number; limit: number; reserve: number } | null;
  /** WebSockets refused with 4100 because the open-files reserve was reached. */
  overCapacityRefusals: number;
  /** Bytes waiting for slow clients, all sockets together, at the last check. */
  bufferedBytes: number;
  /** Slow consumers closed, by app id and by the limit that closed them. */
  slowConsumersClosed: Record<string, Record<BufferLimit, number>>;
}
