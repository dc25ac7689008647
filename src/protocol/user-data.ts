import * as v from "valibot";

/** Pusher's watchlist size: ids past it are ignored and the client is told (4302). */
export const MAX_WATCHLIST = 100;

/**
 * The `user_data` of `pusher:signin`, as the app's user-auth endpoint wrote it. Only `id` and
 * `watchlist` mean something to the server; anything else (`user_info`, …) is the app's.
 */
const UserDataSchema = v.looseObject({
  id: v.pipe(v.string(), v.minLength(1)),
  watchlist: v.optional(v.array(v.string())),
});

export type UserData = v.InferOutput<typeof UserDataSchema>;

export function parseUserData(text: string): UserData | null {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    return null;
  }
  const result = v.safeParse(UserDataSchema, decoded);
  return result.success ? result.output : null;
}

/** The channel whose events reach every signed-in socket of one user (the SDKs' `sendToUser`). */
export function serverToUserChannel(userId: string): string {
  return `#server-to-user-${userId}`;
}

export const SERVER_TO_USER_PREFIX = "#server-to-user-";
