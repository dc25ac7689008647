import { channelKind } from "../protocol/channels.ts";
import type { AppState } from "./app-state.ts";

/** The `info` attributes a client may ask for; unknown names are ignored, never an error. */
export function parseInfo(info: string | null | undefined): ReadonlySet<string> {
  return new Set(info ? info.split(",").map((part) => part.trim()) : []);
}

/**
 * A channel's attributes as the HTTP API reports them: `occupied` when asked, `user_count` for
 * presence channels only, `subscription_count` for the others, `cache` for cache channels.
 */
export function channelInfo(app: AppState, name: string, info: ReadonlySet<string>, now: number): Record<string, unknown> {
  const channel = app.channels.get(name);
  const result: Record<string, unknown> = {};
  if (info.has("occupied")) result.occupied = channel !== undefined;
  if (!channel) return result;
  if (channel.members) {
    if (info.has("user_count")) result.user_count = channel.members.size;
  } else if (info.has("subscription_count")) {
    result.subscription_count = channel.subscribers;
  }
  if (info.has("cache") && channelKind(name).cache) {
    const frame = app.cache.get(name, now);
    if (frame !== null) result.cache = JSON.parse(frame);
  }
  return result;
}

export function occupiedChannels(app: AppState, prefix: string | null, info: ReadonlySet<string>, now: number): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  for (const name of app.channels.keys()) {
    if (prefix === null || name.startsWith(prefix)) channels[name] = channelInfo(app, name, info, now);
  }
  return channels;
}

/** Presence users in the order they joined, ids in the type the client sent. */
export function channelUsers(app: AppState, name: string): Array<{ id: unknown }> | null {
  const members = app.channels.get(name)?.members;
  return members ? [...members.values()].map((member) => ({ id: member.id })) : null;
}
