import { SIGNED_IN } from "../core/presence.ts";
import type { BusHealth } from "../bus/bus.ts";
import type { Hub } from "../core/hub.ts";
import { Pacer } from "../core/pacer.ts";

/** How many of an app's busiest channels the dashboard lists. */
const TOP_CHANNELS = 20;

export interface AppSnapshot {
  id: string;
  connections: number;
  subscribedConnections: number;
  channels: number;
  subscriptions: number;
  presenceMembers: number;
  /** Users signed in (`pusher:signin`) on at least one socket anywhere in the fleet. */
  signedInUsers: number;
  messagesReceived: number;
  messagesSent: number;
  topChannels: Array<{ name: string; subscribers: number }>;
}

export interface Snapshot {
  time: number;
  uptimeSeconds: number;
  node: string;
  apps: AppSnapshot[];
  bus: BusHealth | null;
}

type TopChannel = { readonly name: string; readonly subscribers: number };

function ranksBefore(a: TopChannel, b: TopChannel): boolean {
  return a.subscribers > b.subscribers || (a.subscribers === b.subscribers && a.name < b.name);
}

/**
 * Keeps `top` the busiest TOP_CHANNELS channels seen so far, in order: one pass over an app's
 * channels, with no copy or sort of all of them (an app may have 200k).
 */
export function keepTop(top: TopChannel[], channel: TopChannel): void {
  if (top.length === TOP_CHANNELS && !ranksBefore(channel, top[TOP_CHANNELS - 1]!)) return;
  let at = Math.min(top.length, TOP_CHANNELS - 1);
  if (top.length < TOP_CHANNELS) top.push(channel);
  while (at > 0 && ranksBefore(channel, top[at - 1]!)) {
    top[at] = top[at - 1]!;
    at--;
  }
  top[at] = channel;
}

/**
 * This node's numbers; counters are totals since start, rates are the reader's job. An app's
 * channels are walked in slices, so a scrape of a node with 200k channels never holds the loop.
 */
export async function takeSnapshot(hub: Hub, startedAt: number): Promise<Snapshot> {
  const apps: AppSnapshot[] = [];
  const pacer = new Pacer();
  for (const app of hub.apps.all()) {
    let subscriptions = 0;
    const top: TopChannel[] = [];
    for (const channel of app.channels.values()) {
      subscriptions += channel.subscribers;
      keepTop(top, channel);
      if (pacer.due()) await pacer.pause();
    }
    let presenceMembers = 0;
    for (const [name, roster] of app.rosters) if (name !== SIGNED_IN) presenceMembers += roster.size;
    apps.push({
      id: app.id,
      connections: app.connections.size,
      subscribedConnections: app.subscribedConnections,
      channels: app.channels.size,
      subscriptions,
      presenceMembers,
      signedInUsers: app.rosters.get(SIGNED_IN)?.size ?? 0,
      messagesReceived: app.messagesReceived,
      messagesSent: app.messagesSent,
      topChannels: top.map((channel) => ({ name: channel.name, subscribers: channel.subscribers })),
    });
  }
  const now = Date.now();
  return { time: now, uptimeSeconds: Math.round((now - startedAt) / 1000), node: hub.bus.nodeId, apps, bus: hub.bus.health() };
}
