/**
 * The Redis subscriber in its own thread: RESP parsing and socket reads happen here, so a busy
 * socket loop never stops the subscription from being drained (Redis drops a pub/sub client
 * whose output buffer grows past its limit).
 */
import { runSubscriber, type SubscriberCommand } from "./subscriber.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<SubscriberCommand>) => {
  runSubscriber(event.data, (report) => self.postMessage(report));
};
