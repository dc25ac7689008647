import type { RosterEntry } from "../core/roster.ts";

/** One node's numbers for an HTTP query: subscribed sockets and subscribers per channel. */
export interface NodeStats {
  connections: number;
  channels: Record<string, number>;
}

/** A node's presence share, per app and channel, as a resync carries it. */
export type PresenceSnapshot = Array<{ a: string; c: string; members: RosterEntry[] }>;

/** A node's subscriber count per app and channel, as a resync carries it (webhook occupancy). */
export type OccupancySnapshot = Array<{ a: string; c: string; s: number }>;

/** What a bus calls on the core when other nodes speak: the same entry points local events use. */
export interface BusSink {
  deliverLocal(appId: string, channel: string, frame: string, exceptSocketId: string | null): void;
  remoteJoin(node: string, appId: string, channel: string, user: string, data: Record<string, unknown>): void;
  remoteLeave(node: string, appId: string, channel: string, user: string): void;
  /** Replaces all that `node` held (null: the node is gone, and its occupancy with it). */
  replaceNode(node: string, presence: PresenceSnapshot | null, occupancy?: OccupancySnapshot): void;
  /** Another node's subscriber count of a channel changed (for occupancy webhooks). */
  remoteOccupancy(node: string, appId: string, channel: string, count: number): void;
  terminateLocal(appId: string, user: string): void;
  /** Node `node` now has `count` subscribers on the channel (apps with `subscription_count`). */
  remoteSubscriptionCount(node: string, appId: string, channel: string, count: number): void;
  /** Built in slices, so a node with very many channels keeps serving while it answers. */
  localStats(appId: string, names: string[] | null, prefix: string | null): Promise<NodeStats>;
  presenceSnapshot(): PresenceSnapshot;
  occupancySnapshot(): OccupancySnapshot;
  connectionCounts(): Record<string, number>;
}

/** The Redis link as monitoring shows it. */
export interface BusHealth {
  /** Redis between boxes, or IPC between the workers of one box (always connected). */
  kind: "redis" | "box";
  publisherConnected: boolean;
  subscriberConnected: boolean;
  peers: number;
  buffered: number;
  droppedTotal: number;
  /** A box only: events of other workers the primary kept from this one (no subscriber here). */
  skippedTotal?: number;
  /** Largest delay seen on the last heartbeat from each peer, in milliseconds. */
  lagMs: number;
  /**
   * Largest wait over the last heartbeat or two between the subscriber hearing messages and the
   * socket loop applying them: how far a busy loop has fallen behind Redis (the subscriber never
   * does).
   */
  backlogMs: number;
}

/** How the core tells the rest of the fleet. The local bus (one node) tells no one. */
export interface Bus {
  readonly nodeId: string;
  start(sink: BusSink): void;
  stop(): Promise<void>;
  event(appId: string, channel: string, frame: string, exceptSocketId: string | null): void;
  /**
   * A new local subscription of a channel. Null: the channel's events from every node reach this
   * one already. Otherwise they will once the promise resolves: until then the subscriber must not
   * be told it is subscribed, or it could miss an event sent in between.
   */
  interest(appId: string, channel: string): Promise<void> | null;
  /** The channel's last local subscriber left. */
  noInterest(appId: string, channel: string): void;
  join(appId: string, channel: string, user: string, data: Record<string, unknown>): void;
  leave(appId: string, channel: string, user: string): void;
  terminate(appId: string, user: string): void;
  /** This node's subscriber count of a channel, for the fleet's occupancy webhooks. */
  occupancy(appId: string, channel: string, count: number): void;
  /** The other live nodes' ids (empty when alone). */
  peerIds(): Iterable<string>;
  /** This node's subscriber count of a channel changed (apps with `subscription_count`). */
  subscriptionCount(appId: string, channel: string, count: number): void;
  /** Open connections of the app on the other nodes, as last heard. */
  remoteConnections(appId: string): number;
  /** The other nodes' numbers; empty when alone or cut off. */
  gatherStats(appId: string, names: string[] | null, prefix: string | null): Promise<NodeStats[]>;
  /** Null when there is no fleet. */
  health(): BusHealth | null;
  /** The other workers' monitoring reports, in a box of workers; empty elsewhere. */
  gatherReports(): Promise<unknown[]>;
  /** What this node answers when another worker gathers reports. */
  answerReports(source: () => Promise<unknown>): void;
}

export const LOCAL_NODE = "local";

export const localBus: Bus = {
  nodeId: LOCAL_NODE,
  start() {},
  async stop() {},
  event() {},
  interest: () => null,
  noInterest() {},
  join() {},
  leave() {},
  terminate() {},
  occupancy() {},
  peerIds: () => [],
  subscriptionCount() {},
  remoteConnections: () => 0,
  gatherStats: async () => [],
  health: () => null,
  gatherReports: async () => [],
  answerReports() {},
};
