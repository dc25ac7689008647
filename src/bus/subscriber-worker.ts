/**
 * The Redis subscriber, in its own thread: RESP parsing and socket reads happen here, so a busy
 * socket loop never stops the subscription from being drained (Redis drops a pub/sub client
 * whose output buffer grows past its limit). Messages are forwarded in batches, raw; the main
 * thread decodes them.
 */
import Redis from "ioredis";
import type { SubscriberCommand, SubscriberReport } from "./subscriber-protocol.ts";
import { redisOptions } from "./redis-options.ts";

declare const self: Worker;

let batch: string[] = [];

function report(message: SubscriberReport): void {
  self.postMessage(message);
}

function flush(): void {
  const messages = batch;
  batch = [];
  report({ type: "messages", messages });
}

self.onmessage = (event: MessageEvent<SubscriberCommand>) => {
  const { connection, channel, ownPrefix } = event.data;
  const redis = new Redis({ ...redisOptions(connection), connectionName: "reverb-uws:subscriber" });
  redis.on("message", (_channel: string, message: string) => {
    if (message.startsWith(ownPrefix)) return;
    if (batch.length === 0) queueMicrotask(flush);
    batch.push(message);
  });
  redis.on("ready", () => report({ type: "status", state: "ready" }));
  redis.on("close", () => report({ type: "status", state: "down" }));
  redis.on("error", (error: Error) => report({ type: "error", message: error.message }));
  redis.subscribe(channel).catch((error: Error) => report({ type: "error", message: error.message }));
};
