import type { NodeStats } from "../bus/bus.ts";
import { channelKind } from "../protocol/channels.ts";
import type { AppState } from "./app-state.ts";

/** The `info` attributes a client may ask for; unknown names are ignored, never an error. */
export function parseInfo(info: string | null | undefined): ReadonlySet<string> {
  return new Set(info ? info.split(",").map((part) => part.trim()) : []);
}

/**
 * A channel's attributes as the HTTP API reports them: `occupied` when asked, `user_count` for
 * presence channels only (distinct users across the fleet), `subscription_count` for the others,
 * `cache` for cache channels. `stats` are the fleet's subscriber counts.
 */
export function channelInfo(app: AppState, name: string, info: ReadonlySet<string>, stats: NodeStats, now: number): Record<string, unknown> {
  const subscribers = stats.channels[name] ?? 0;
  const kind = channelKind(name);
  const members = kind.presence ? (app.rosters.get(name)?.size ?? 0) : 0;
  const occupied = subscribers > 0 || members > 0;
  const result: Record<string, unknown> = {};
  if (info.has("occupied")) result.occupied = occupied;
  if (!occupied) return result;
  if (kind.presence) {
    if (info.has("user_count")) result.user_count = members;
  } else if (info.has("subscription_count")) {
    result.subscription_count = subscribers;
  }
  if (info.has("cache") && kind.cache) {
    const frame = app.cache.get(name, now);
    if (frame !== null) result.cache = JSON.parse(frame);
  }
  return result;
}

export function occupiedChannels(app: AppState, info: ReadonlySet<string>, stats: NodeStats, now: number): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  for (const name of Object.keys(stats.channels)) channels[name] = channelInfo(app, name, info, stats, now);
  return channels;
}

/** Presence users in the order they joined, ids in the type the client sent. */
export function channelUsers(app: AppState, name: string): Array<{ id: unknown }> | null {
  const roster = app.rosters.get(name);
  return roster ? [...roster.members.values()].map((member) => ({ id: member.id })) : null;
}
