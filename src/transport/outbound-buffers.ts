import type { Config } from "../config/schema.ts";
import type { Connection } from "../core/connection.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../log.ts";

/** Which limit closed a slow consumer: its app's `max_buffered_bytes`, or the server's total. */
export type BufferLimit = "socket" | "server";

/** uWS's limit before: a burst to a healthy client (a catch-up after a stall) may need this much. */
const BURST_ROOM = 16 * 1024 * 1024;

/**
 * uWS's per-socket limit: room for a burst that a healthy client is reading its way through, and
 * at least twice the largest `max_buffered_bytes`, so a socket just past its cap still has room
 * for the 4100 close frame behind what it has not read.
 */
export function transportBufferLimit(config: Config): number {
  return Math.max(BURST_ROOM, 2 * Math.max(...config.apps.map((app) => app.max_buffered_bytes)));
}

export interface OutboundBuffersOptions {
  /** Whose connections are watched, and who closes them. */
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
 * Finds the sockets that fall behind on what they are sent and closes them with 4100 (pusher-js
 * retries after a back-off). A socket is closed once it has more than its app's
 * `max_buffered_bytes` waiting at two checks in a row without having caught up in between: a
 * client that stopped reading goes within half a second of passing its cap, while a healthy one
 * reading its way through a burst is left alone. All sockets together are held to
 * `max_buffered_bytes_total`, the furthest behind closed first.
 * A periodic scan rather than work on the publish path: one native call per socket, about 10 ns.
 */
export class OutboundBuffers {
  /** Bytes waiting over all sockets at the last scan, after the closes it made. */
  buffered = 0;
  /** Slow consumers closed since start, by app id and limit. */
  readonly closed = new Map<string, Record<BufferLimit, number>>();
  private readonly options: OutboundBuffersOptions;
  /** Sockets past their cap at the last scan, with what they had waiting then; swapped each scan. */
  private pastCap = new Map<Connection, number>();
  private nextPastCap = new Map<Connection, number>();
  /** Reused between scans: the sockets with anything waiting, and how much. */
  private behind: Connection[] = [];
  private behindBytes: number[] = [];
  private stuck: Connection[] = [];
  private stuckBytes: number[] = [];

  constructor(options: OutboundBuffersOptions) {
    this.options = options;
  }

  scan(): void {
    const { behind, behindBytes, stuck, stuckBytes, pastCap, nextPastCap } = this;
    let total = 0;
    for (const app of this.options.hub.apps.all()) {
      const cap = app.config.max_buffered_bytes;
      for (const connection of app.connections.values()) {
        const bytes = connection.socket.getBufferedAmount();
        if (bytes === 0) continue;
        if (bytes > cap) {
          const before = pastCap.get(connection);
          if (before !== undefined && bytes >= before) {
            stuck.push(connection);
            stuckBytes.push(bytes);
            continue;
          }
          nextPastCap.set(connection, bytes);
        }
        behind.push(connection);
        behindBytes.push(bytes);
        total += bytes;
      }
    }
    pastCap.clear();
    this.pastCap = nextPastCap;
    this.nextPastCap = pastCap;
    // Closing runs the close handler, which edits the maps iterated above: only after the loop.
    for (let i = 0; i < stuck.length; i++) this.cut(stuck[i]!, stuckBytes[i]!, "socket");
    if (total > this.options.totalBudget) {
      const order = behind.map((_, i) => i).sort((a, b) => behindBytes[b]! - behindBytes[a]!);
      for (const i of order) {
        if (total <= this.options.totalBudget) break;
        this.cut(behind[i]!, behindBytes[i]!, "server");
        this.pastCap.delete(behind[i]!);
        total -= behindBytes[i]!;
      }
    }
    this.buffered = total;
    behind.length = behindBytes.length = stuck.length = stuckBytes.length = 0;
  }

  private cut(connection: Connection, bytes: number, limit: BufferLimit): void {
    const { log, hub, transportLimit, totalBudget } = this.options;
    const app = connection.app;
    const counts = this.closed.get(app.id) ?? { socket: 0, server: 0 };
    counts[limit]++;
    this.closed.set(app.id, counts);
    const why =
      limit === "socket"
        ? `over the app's max_buffered_bytes (${app.config.max_buffered_bytes}) and not catching up`
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
