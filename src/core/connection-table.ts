import { randomInt } from "node:crypto";
import type { Connection } from "./connection.ts";

/** Exclusive bound of the random part: randomInt's widest range, about 2.8e14. */
const RANDOM_PART = 2 ** 48 - 1;

/**
 * One app's established connections, found by socket id. The table names each connection: a
 * socket id is `<random>.<slot>`, the second number its index here (from 1), so finding one is an
 * array index and a compare, and holding one costs a slot rather than a Map entry (60 bytes; at
 * 20k idle connections that was a tenth of the server's own memory per connection). The random
 * part, up to 2^48, keeps ids of reused slots and of other nodes apart. Both parts are digits, the
 * shape pusher-http-php and Laravel validate (`^\d+\.\d+$`).
 */
export class ConnectionTable {
  private readonly slots: (Connection | null)[] = [];
  private readonly free: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Holds `connection` and returns the socket id it is known by from now on. */
  add(connection: Connection): string {
    const slot = this.free.pop() ?? this.slots.length;
    this.slots[slot] = connection;
    this.count++;
    // join makes one flat string; a template literal would keep a rope of three (84 bytes, not 37).
    return [randomInt(1, RANDOM_PART), slot + 1].join(".");
  }

  delete(connection: Connection): void {
    const slot = this.slotOf(connection.socketId);
    if (slot === null || this.slots[slot] !== connection) return;
    this.slots[slot] = null;
    this.free.push(slot);
    this.count--;
  }

  get(socketId: string): Connection | undefined {
    const slot = this.slotOf(socketId);
    const connection = slot === null ? null : this.slots[slot];
    return connection?.socketId === socketId ? connection : undefined;
  }

  has(socketId: string): boolean {
    return this.get(socketId) !== undefined;
  }

  /** Every connection held; one deleted meanwhile (a close while walking) is skipped, not an error. */
  *values(): Generator<Connection> {
    for (const connection of this.slots) if (connection) yield connection;
  }

  /** Read digit by digit: every client event and excluding API call looks its sender up here. */
  private slotOf(socketId: string): number | null {
    const dot = socketId.indexOf(".");
    if (dot < 0) return null;
    let number = 0;
    for (let i = dot + 1; i < socketId.length; i++) {
      const digit = socketId.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return null;
      number = number * 10 + digit;
      if (number > this.slots.length) return null;
    }
    return number >= 1 ? number - 1 : null;
  }
}
