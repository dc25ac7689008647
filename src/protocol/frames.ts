/**
 * Outgoing frames, serialized once each. Key order follows Reverb exactly: `pusher:*` frames are
 * `event, data, channel` with empty parts omitted; `pusher_internal:*` frames always carry `data`.
 */

export const PONG_FRAME = '{"event":"pusher:pong"}';
export const PING_FRAME = '{"event":"pusher:ping"}';

export function errorFrame(code: number, message: string): string {
  return JSON.stringify({ event: "pusher:error", data: JSON.stringify({ code, message }) });
}

export function connectionEstablishedFrame(socketId: string, activityTimeout: number): string {
  return JSON.stringify({
    event: "pusher:connection_established",
    data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }),
  });
}

function internalFrame(event: string, data: string, channel: string): string {
  return channel === ""
    ? JSON.stringify({ event, data })
    : JSON.stringify({ event, data, channel });
}

export function subscriptionSucceededFrame(channel: string, data = "{}"): string {
  return internalFrame("pusher_internal:subscription_succeeded", data, channel);
}

export interface PresenceMemberView {
  readonly id: unknown;
  readonly info: unknown;
}

/** `hash` is always an object, never a list (Decision 2). */
export function presenceData(members: Iterable<PresenceMemberView>): string {
  const ids: unknown[] = [];
  const hash: Record<string, unknown> = {};
  for (const member of members) {
    ids.push(member.id);
    hash[String(member.id)] = member.info ?? null;
  }
  return JSON.stringify({ presence: { count: ids.length, ids, hash } });
}

export function memberAddedFrame(channel: string, channelData: string): string {
  return internalFrame("pusher_internal:member_added", channelData, channel);
}

export function memberRemovedFrame(channel: string, userId: unknown): string {
  return internalFrame("pusher_internal:member_removed", JSON.stringify({ user_id: userId }), channel);
}

export function cacheMissFrame(channel: string): string {
  return channel === ""
    ? JSON.stringify({ event: "pusher:cache_miss" })
    : JSON.stringify({ event: "pusher:cache_miss", channel });
}

/** An event from `POST /events`: key order event, data, channel. */
export function serverEventFrame(event: string, data: string, channel: string): string {
  return JSON.stringify({ event, data, channel });
}

/** An event from `POST /batch_events`: key order event, channel, data (as Reverb sends it). */
export function batchEventFrame(event: string, channel: string, data: string): string {
  return JSON.stringify({ event, channel, data });
}

/** `user_data` is the client's own string, returned verbatim (pusher-js parses it again). */
export function signinSuccessFrame(userData: string): string {
  return JSON.stringify({ event: "pusher:signin_success", data: JSON.stringify({ user_data: userData }) });
}

/** The frame pusher-js's `watchlist.ts` reads: `data.events[]` of `{name, user_ids}`. */
export function watchlistEventsFrame(name: "online" | "offline", userIds: readonly string[]): string {
  return JSON.stringify({ event: "pusher_internal:watchlist_events", data: JSON.stringify({ events: [{ name, user_ids: userIds }] }) });
}

export function subscriptionCountFrame(channel: string, count: number): string {
  return internalFrame("pusher_internal:subscription_count", JSON.stringify({ subscription_count: count }), channel);
}
