import { errorFrame } from "./frames.ts";

/**
 * Every `pusher:error` the server sends, with Reverb's exact messages for Reverb's errors. Our own
 * limits answer 4300 (Pusher: "any other error", which no client retries as it is): the socket
 * stays open and only that subscription is refused. `close` is the WebSocket
 * close code that follows the frame, when the error ends the connection.
 */
export const PusherError = {
  appNotFound: { code: 4001, message: "Application does not exist" },
  overQuota: { code: 4004, message: "Application is over connection quota" },
  originNotAllowed: { code: 4009, message: "Origin not allowed" },
  unauthorized: { code: 4009, message: "Connection is unauthorized" },
  notMember: { code: 4009, message: "The client is not a member of the specified channel." },
  /** Open-files reserve reached, or a socket too far behind on what it was sent: retry later. */
  overCapacity: { code: 4100, message: "Over capacity" },
  invalidMessage: { code: 4200, message: "Invalid message format" },
  invalidUserId: { code: 4200, message: "Invalid message format: a presence user_id must be a string or a number" },
  pongTimeout: { code: 4201, message: "Pong reply not received in time" },
  clientEventsDisabled: { code: 4301, message: "The app does not have client messaging enabled." },
  rateLimited: { code: 4301, message: "Rate limit exceeded" },
  tooManyChannels: { code: 4300, message: "Subscription refused: this connection is on max_channels_per_connection channels" },
  presenceFull: { code: 4300, message: "Subscription refused: the presence channel has max_presence_members members" },
  memberTooLarge: { code: 4300, message: "Subscription refused: channel_data is over max_presence_member_size bytes" },
  channelNameTooLong: { code: 4300, message: "Refused: the channel name is over max_channel_name_length characters" },
  eventNameTooLong: { code: 4300, message: "Client event refused: the event name is over max_event_name_length characters" },
  /** `#` channels are the server's: only `#server-to-user-<id>`, and only by that signed-in user. */
  reservedChannel: { code: 4009, message: "Refused: # channels are reserved; #server-to-user-<id> is for its signed-in user only" },
  // Signin refusals close the socket with 4009, as Pusher does.
  signinUnauthorized: { code: 4009, message: "Signin refused: the auth signature is invalid" },
  signinBadUserData: { code: 4009, message: "Signin refused: user_data must be a JSON object with a non-empty string id and a watchlist of strings" },
  signinOtherUser: { code: 4009, message: "Signin refused: this connection is signed in as another user" },
  /** `user_authentication_timeout`: neither signed in nor on a private or presence channel in time. */
  notAuthorizedInTime: { code: 4009, message: "Connection not authorized within timeout" },
  watchlistTooLong: { code: 4302, message: "Watchlist limit exceeded: only the first 100 user ids are watched" },
} as const;

export type PusherErrorName = keyof typeof PusherError;

/** Frames are built once at load; sending an error allocates nothing. */
export const ERROR_FRAMES = Object.fromEntries(
  Object.entries(PusherError).map(([name, { code, message }]) => [name, errorFrame(code, message)]),
) as Record<PusherErrorName, string>;

/** WebSocket close codes that are not Pusher error codes. */
export const CloseCode = {
  messageTooBig: 1009,
  /** Server restarting: pusher-js reconnects at once (4200-4299). */
  reconnectNow: 4200,
} as const;
