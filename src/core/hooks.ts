import type { OccupancySnapshot } from "../bus/bus.ts";
import type { AppState } from "./app-state.ts";

/**
 * What the core tells the webhooks about. The hub calls these only for apps that have webhooks
 * (`app.config.webhooks.length`), so an app without them pays one length check per call site.
 */
export interface ChannelHooks {
  /** This node's subscriber count of a channel changed (0: nobody left here). */
  countChanged(app: AppState, channel: string, count: number): void;
  /** A user became a member of a presence channel somewhere in the fleet (the roster says so). */
  memberAdded(app: AppState, channel: string, userKey: string): void;
  /** A user's last socket anywhere left a presence channel. */
  memberRemoved(app: AppState, channel: string, userKey: string): void;
  /** A client event was accepted from `socketId` on this node; `userKey` on presence channels. */
  clientEvent(app: AppState, channel: string, event: string, data: unknown, socketId: string, userKey: string | null): void;
  /** A socket on this node subscribed to a cache channel that held nothing. */
  cacheMiss(app: AppState, channel: string): void;
  /** Another node's subscriber count of a channel. */
  remoteCount(node: string, appId: string, channel: string, count: number): void;
  /** Replaces all that `node` held (null: it is gone). */
  replaceNode(node: string, shares: OccupancySnapshot | null): void;
  /** This node's subscriber counts, for a resync; empty when no app has occupancy webhooks. */
  snapshot(): OccupancySnapshot;
}

/** The hooks of a server without webhooks. */
export const NO_HOOKS: ChannelHooks = {
  countChanged() {},
  memberAdded() {},
  memberRemoved() {},
  clientEvent() {},
  cacheMiss() {},
  remoteCount() {},
  replaceNode() {},
  snapshot: () => [],
};
