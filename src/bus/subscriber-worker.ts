/**
 * The Redis subscriber in its own thread: RESP parsing and socket reads happen here, so a busy
 * socket loop never stops the subscription from being drained (Redis drops a pub/sub client
 * whose output buffer grows past its limit).
 */
import { runSubscriber, type Applied, type RunningSubscriber, type SubscriberCommand } from "./subscriber.ts";

declare const self: Worker;

let subscriber: RunningSubscriber | null = null;

/** The first message starts the subscriber; the rest say how far the socket loop has got. */
self.onmessage = (event: MessageEvent<SubscriberCommand | Applied>) => {
  const message = event.data;
  if ("applied" in message) subscriber?.applied(message.applied);
  else subscriber = runSubscriber(message, (report) => self.postMessage(report));
};
