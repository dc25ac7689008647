import type { OccupancySnapshot } from "../bus/bus.ts";

/** A channel's fleet total before and after a change. */
export interface CountChange {
  readonly appId: string;
  readonly channel: string;
  readonly before: number;
  readonly after: number;
}

/**
 * Subscribers per channel on every node, for the channels of apps with occupancy webhooks. Each
 * node's share is kept apart so it can be replaced (resync) or dropped (node death) whole, and
 * every node computes the same fleet totals from the same shares.
 */
export class FleetOccupancy {
  /** `app\0channel` → node → subscribers there. */
  private readonly channels = new Map<string, Map<string, number>>();

  /** Sets `node`'s count; returns the fleet total before and after. */
  set(appId: string, channel: string, node: string, count: number): CountChange {
    const key = `${appId}\u0000${channel}`;
    let shares = this.channels.get(key);
    const before = shares ? total(shares) : 0;
    if (count > 0) {
      if (!shares) this.channels.set(key, (shares = new Map()));
      shares.set(node, count);
    } else if (shares) {
      shares.delete(node);
      if (shares.size === 0) this.channels.delete(key);
    }
    return { appId, channel, before, after: this.totalOf(key) };
  }

  /** Replaces everything `node` held with `snapshot` (empty: it is gone); returns the changes. */
  replaceNode(node: string, snapshot: OccupancySnapshot): CountChange[] {
    const changes: CountChange[] = [];
    const next = new Map<string, number>();
    for (const share of snapshot) next.set(`${share.a}\u0000${share.c}`, share.s);
    for (const [key, shares] of this.channels) {
      if (!shares.has(node) || next.has(key)) continue;
      const [appId, channel] = split(key);
      changes.push(this.set(appId, channel, node, 0));
    }
    for (const share of snapshot) changes.push(this.set(share.a, share.c, node, share.s));
    return changes.filter((change) => change.before !== change.after);
  }

  /** What `node` holds, for a resync. */
  sharesOf(node: string): OccupancySnapshot {
    const snapshot: OccupancySnapshot = [];
    for (const [key, shares] of this.channels) {
      const count = shares.get(node);
      if (count === undefined) continue;
      const [a, c] = split(key);
      snapshot.push({ a, c, s: count });
    }
    return snapshot;
  }

  private totalOf(key: string): number {
    const shares = this.channels.get(key);
    return shares ? total(shares) : 0;
  }
}

function total(shares: Map<string, number>): number {
  let sum = 0;
  for (const count of shares.values()) sum += count;
  return sum;
}

function split(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at), key.slice(at + 1)];
}
