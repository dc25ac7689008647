import type { Config } from "../config/schema.ts";
import { Connection } from "../core/connection.ts";
import type { Hub } from "../core/hub.ts";
import type { PusherErrorName } from "../protocol/errors.ts";

/** A socket refused before it could become a connection; the reason is sent once it opens. */
export class Refusal {
  constructor(
    readonly error: PusherErrorName,
    /** For the log line. */
    readonly detail: string,
  ) {}
}

/** What a transport keeps with each socket from the upgrade on. */
export type SocketData = Connection | Refusal;

/** Shared by every socket refused for want of open files: a burst of them allocates nothing more. */
export const OVER_CAPACITY = new Refusal("overCapacity", "open-files reserve reached");

/** uWS's own cap for one message when an app sets no limit (`max_message_size: 0`). */
const UNLIMITED_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * uWS's `maxPayloadLength`: headroom above the largest app limit, so a message slightly over its
 * app's limit reaches the hub, which closes with the spec's reason; only far larger ones are cut
 * by uWS before buffering.
 */
export function largestMessage(config: Config): number {
  return Math.max(...config.apps.map((app) => app.max_message_size || UNLIMITED_MESSAGE_BYTES)) + 64 * 1024;
}

/**
 * The new socket's connection, or why it is refused. `origin` is asked for only when the app checks
 * origins: materialising headers is the costliest step of an upgrade.
 */
export function admit(hub: Hub, appKey: string, origin: () => string | null): SocketData {
  const app = hub.apps.findByKey(appKey);
  if (!app) return new Refusal("appNotFound", `unknown app key ${appKey}`);
  if (app.originCheck) {
    const from = origin();
    if (!app.originCheck(from)) return new Refusal("originNotAllowed", `origin ${from} not allowed for app ${app.id}`);
  }
  return new Connection(app, Date.now());
}
