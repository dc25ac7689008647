import type { BusHealth } from "../bus/bus.ts";
import type { Hub } from "../core/hub.ts";

/** How many of an app's busiest channels the dashboard lists. */
const TOP_CHANNELS = 20;

export interface AppSnapshot {
  id: string;
  connections: number;
  subscribedConnections: number;
  channels: number;
  subscriptions: number;
  presenceMembers: number;
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

/** This node's numbers at one instant; counters are totals since start, rates are the reader's job. */
export function takeSnapshot(hub: Hub, startedAt: number): Snapshot {
  const apps: AppSnapshot[] = [];
  for (const app of hub.apps.all()) {
    let subscriptions = 0;
    const channels: Array<{ name: string; subscribers: number }> = [];
    for (const channel of app.channels.values()) {
      subscriptions += channel.subscribers;
      channels.push({ name: channel.name, subscribers: channel.subscribers });
    }
    channels.sort((a, b) => b.subscribers - a.subscribers || a.name.localeCompare(b.name));
    let presenceMembers = 0;
    for (const roster of app.rosters.values()) presenceMembers += roster.size;
    apps.push({
      id: app.id,
      connections: app.connections.size,
      subscribedConnections: app.subscribedConnections,
      channels: app.channels.size,
      subscriptions,
      presenceMembers,
      messagesReceived: app.messagesReceived,
      messagesSent: app.messagesSent,
      topChannels: channels.slice(0, TOP_CHANNELS),
    });
  }
  const now = Date.now();
  return { time: now, uptimeSeconds: Math.round((now - startedAt) / 1000), node: hub.bus.nodeId, apps, bus: hub.bus.health() };
}
