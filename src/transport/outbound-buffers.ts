import type { Config } from "../config/schema.ts";
import type { AppRegistry } from "../core/app-state.ts";
import type { Connection } from "../core/connection.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../log.ts";

/** Which limit closed a slow consumer: its app's `max_buffered_bytes`, or the server's total. */
export type BufferLimit = "socket" | "server";

/**
 * uWS's per-socket limit: twice the largest `max_buffered_bytes`, so a socket just past its cap
 * still has room for the 4100 close frame behind what it has not read.
 */
export function transportBufferLimit(config: Config): number {
  return 2 * Math.max(...config.apps.map((app) => app.max_buffered_bytes));
}

export interface OutboundBuffersOptions {
  apps: AppRegistry;
  hub: Hub;
  log: Logger;
  /** `max_buffered_bytes_total`: bytes all sockets together may have waiting. */
  totalBudget: number;
  /**
   * uWS's own per-socket limit: past it uWS drops what is published to the socket, and would
   * drop a close frame too.
   */
  transportLimit: number;
  /** A socket was closed and may hold its file a few seconds more. */
  onClosing: () => void;
}

/**
 * Finds the sockets that fell behind on what they were sent and closes them with 4100 (pusher-js
 * retries after a back-off), so a client that stops reading costs at most its app's
 * `max_buffered_bytes`, and all of them together at most `max_buffered_bytes_total`, largest first.
 * A periodic scan rather than work on the publish path: one native call per socket, about 10 ns.
 */
export class OutboundBuffers {
  /** Bytes waiting over all sockets at the last scan, after the closes it made. */
  buffered = 0;
  /** Slow consumers closed since start, by app id and limit. */
  readonly closed = new Map<string, Record<BufferLimit, number>>();
  private readonly options: OutboundBuffersOptions;
  /** Reused between scans: the sockets with anything waiting, and how much. */
  private behind: Connection[] = [];
  private behindBytes: number[] = [];
  private over: Connection[] = [];
  private overBytes: number[] = [];

  constructor(options: OutboundBuffersOptions) {
    this.options = options;
  }

  scan(): void {
    const { behind, behindBytes, over, overBytes } = this;
    let total = 0;
    for (const app of this.options.apps.all()) {
      const cap = app.config.max_buffered_bytes;
      for (const connection of app.connections.values()) {
        const bytes = connection.socket.getBufferedAmount();
        if (bytes === 0) continue;
        if (bytes > cap) {
          over.push(connection);
          overBytes.push(bytes);
        } else {
          behind.push(connection);
          behindBytes.push(bytes);
          total += bytes;
        }
      }
    }
    // Closing runs the close handler, which edits the maps iterated above: only after the loop.
    for (let i = 0; i < over.length; i++) this.cut(over[i]!, overBytes[i]!, "socket");
    if (total > this.options.totalBudget) {
      const order = behind.map((_, i) => i).sort((a, b) => behindBytes[b]! - behindBytes[a]!);
      for (const i of order) {
        if (total <= this.options.totalBudget) break;
        this.cut(behind[i]!, behindBytes[i]!, "server");
        total -= behindBytes[i]!;
      }
    }
    this.buffered = total;
    behind.length = behindBytes.length = over.length = overBytes.length = 0;
  }

  private cut(connection: Connection, bytes: number, limit: BufferLimit): void {
    const { log, hub, transportLimit, totalBudget } = this.options;
    const app = connection.app;
    const counts = this.closed.get(app.id) ?? { socket: 0, server: 0 };
    counts[limit]++;
    this.closed.set(app.id, counts);
    const why =
      limit === "socket"
        ? `over the app's max_buffered_bytes (${app.config.max_buffered_bytes})`
        : `the largest while all sockets together were over max_buffered_bytes_total (${totalBudget})`;
    log.warn(`Slow consumer ${connection.socketId} (app ${app.id}) closed with 4100: ${bytes} bytes waiting, ${why}`);
    if (bytes > transportLimit) {
      // uWS would drop the close frame and keep the socket (and its buffer) until its own timeout.
      connection.socket.terminate();
      return;
    }
    hub.refuse(connection.socket, "overCapacity");
    this.options.onClosing();
  }
}
