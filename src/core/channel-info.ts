import { channelKind } from "../protocol/channels.ts";
import type { AppState } from "./app-state.ts";
import type { FleetStats } from "./fleet-stats.ts";

/** The `info` attributes a client may ask for; unknown names are ignored, never an error. */
export function parseInfo(info: string | null | undefined): ReadonlySet<string> {
  return new Set(info ? info.split(",").map((part) => part.trim()) : []);
}

/**
 * A channel's attributes as the HTTP API reports them: `occupied` when asked, `user_count` for
 * presence channels only (distinct users across the fleet), `subscription_count` for the others,
 * `cache` for cache channels. `subscribers` is the fleet's count.
 */
export function channelInfo(app: AppState, name: string, info: ReadonlySet<string>, subscribers: number, now: number): Record<string, unknown> {
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

/**
 * Each occupied channel with its attributes, lazily: the caller serializes them in slices. The
 * server's `#server-to-user-` channels (one per signed-in user) are listed only when asked for by
 * a `#` prefix, so they do not swamp the app's own channels.
 */
export function* occupiedChannels(app: AppState, info: ReadonlySet<string>, stats: FleetStats, now: number, reserved: boolean): Generator<[string, Record<string, unknown>]> {
  for (let i = 0; i < stats.names.length; i++) {
    const name = stats.names[i]!;
    if (reserved || !name.startsWith("#")) yield [name, channelInfo(app, name, info, stats.subscribers[i]!, now)];
  }
}

/** Presence users in the order they joined, ids in the type the client sent; null: no such roster. */
export function channelUsers(app: AppState, name: string): Iterable<{ id: unknown }> | null {
  const roster = app.rosters.get(name);
  return roster ? usersOf(roster.members.values()) : null;
}

function* usersOf(members: Iterable<{ id: unknown }>): Generator<{ id: unknown }> {
  for (const member of members) yield { id: member.id };
}
