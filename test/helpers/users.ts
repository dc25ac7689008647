import Pusher from "pusher";
import PusherJS from "pusher-js";
import { APP } from "./server.ts";
import { within } from "./waits.ts";

/** Where a pusher-js client connects: a test server or a fleet node. */
export interface Target {
  readonly port: number;
  readonly path?: string;
}

export interface SignedInUser {
  id: string;
  watchlist?: string[];
  user_info?: Record<string, unknown>;
}

/** The official server SDK, which signs user authentication (`authenticateUser`) and sends to users. */
export function sdkAt(target: Target): Pusher {
  return new Pusher({ appId: APP.app_id, key: APP.key, secret: APP.secret, host: "127.0.0.1", port: String(target.port), useTLS: false });
}

/**
 * pusher-js with a `userAuthentication.customHandler` that answers as an app's
 * `/broadcasting/user-auth` endpoint does, signed by the `pusher` SDK's `authenticateUser`.
 */
export function userPusher(target: Target, user: SignedInUser): PusherJS {
  const sdk = sdkAt(target);
  return new PusherJS(APP.key, {
    cluster: "",
    wsHost: "127.0.0.1",
    wsPort: target.port,
    wsPath: target.path ?? "",
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    userAuthentication: {
      endpoint: "/unused",
      transport: "ajax",
      customHandler: ({ socketId }, callback) => callback(null, sdk.authenticateUser(socketId, user)),
    },
  });
}

/** Connects, signs in and waits for `pusher:signin_success`. */
export async function signIn(target: Target, user: SignedInUser, track: (client: PusherJS) => void): Promise<PusherJS> {
  const client = userPusher(target, user);
  track(client);
  const done = new Promise<void>((resolve) => {
    client.connection.bind("message", (event: { event: string }) => {
      if (event.event === "pusher:signin_success") resolve();
    });
  });
  client.signin();
  await within(done, `signin of user ${user.id}`);
  return client;
}
