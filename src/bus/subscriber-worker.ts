/**
 * The Redis subscriber in its own thread: RESP parsing and socket reads happen here, so a busy
 * socket loop never stops the subscription from being drained (Redis drops a pub/sub client
 * whose output buffer grows past its limit). A Web Worker under Bun, a worker_threads Worker under
 * Node (subscriber-thread.ts).
 */
import { parentPort } from "node:worker_threads";
import { runSubscriber, type Applied, type RunningSubscriber, type SubscriberCommand, type SubscriberReport } from "./subscriber.ts";

declare const self: Worker;

let subscriber: RunningSubscriber | null = null;

/** The first message starts the subscriber; the rest say how far the socket loop has got. */
function heard(message: SubscriberCommand | Applied, post: (report: SubscriberReport) => void): void {
  if ("applied" in message) subscriber?.applied(message.applied);
  else subscriber = runSubscriber(message, post);
}

if (process.versions.bun) {
  self.onmessage = (event: MessageEvent<SubscriberCommand | Applied>) => heard(event.data, (report) => self.postMessage(report));
} else {
  const port = parentPort!;
  port.on("message", (message: SubscriberCommand | Applied) => heard(message, (report) => port.postMessage(report)));
}
