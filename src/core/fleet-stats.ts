import type { NodeStats } from "../bus/bus.ts";
import type { AppState } from "./app-state.ts";
import { Pacer } from "./pacer.ts";

/**
 * What an HTTP query reports: subscribed sockets, and subscribers per channel, over the fleet. Two
 * arrays rather than a Map: a Map growing to 200k names rehashes all of them at once (~20 ms of
 * a held loop each time it doubles); an array grows by a copy. Every walk here is paced, as an
 * app may have hundreds of thousands of channels.
 */
export class FleetStats {
  connections = 0;
  readonly names: string[] = [];
  readonly subscribers: number[] = [];

  add(name: string, subscribers: number): void {
    this.names.push(name);
    this.subscribers.push(subscribers);
  }

  /** For queries that name a few channels. */
  subscribersOf(name: string): number {
    const index = this.names.indexOf(name);
    return index === -1 ? 0 : this.subscribers[index]!;
  }
}

/** This node's numbers for the named channels, or for every channel starting with `prefix`. */
export async function localCounts(app: AppState, names: string[] | null, prefix: string | null): Promise<FleetStats> {
  const stats = new FleetStats();
  const pacer = new Pacer();
  if (names) {
    for (const name of names) {
      const channel = app.channels.get(name);
      if (channel) stats.add(name, channel.subscribers);
      if (pacer.due()) await pacer.pause();
    }
  } else {
    for (const channel of app.channels.values()) {
      if (prefix === null || channel.name.startsWith(prefix)) stats.add(channel.name, channel.subscribers);
      if (pacer.due()) await pacer.pause();
    }
  }
  stats.connections = app.subscribedConnections;
  return stats;
}

/** The local numbers plus the other nodes': channels known here first, then the others'. */
export async function withRemotes(local: FleetStats, remotes: readonly NodeStats[]): Promise<FleetStats> {
  if (remotes.length === 0) return local;
  const pacer = new Pacer();
  const elsewhere = new Map<string, number>();
  const total = new FleetStats();
  total.connections = local.connections;
  for (const remote of remotes) {
    total.connections += remote.connections;
    for (const name in remote.channels) {
      elsewhere.set(name, (elsewhere.get(name) ?? 0) + remote.channels[name]!);
      if (pacer.due()) await pacer.pause();
    }
  }
  for (let i = 0; i < local.names.length; i++) {
    const name = local.names[i]!;
    total.add(name, local.subscribers[i]! + (elsewhere.get(name) ?? 0));
    elsewhere.delete(name);
    if (pacer.due()) await pacer.pause();
  }
  for (const [name, count] of elsewhere) {
    total.add(name, count);
    if (pacer.due()) await pacer.pause();
  }
  return total;
}

/** The shape the bus carries to the node that asked. */
export async function asNodeStats(counts: FleetStats): Promise<NodeStats> {
  const channels: Record<string, number> = {};
  const pacer = new Pacer();
  for (let i = 0; i < counts.names.length; i++) {
    channels[counts.names[i]!] = counts.subscribers[i]!;
    if (pacer.due()) await pacer.pause();
  }
  return { connections: counts.connections, channels };
}
