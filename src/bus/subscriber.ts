import Redis from "ioredis";
import { redisOptions, type RedisConnection } from "./redis-options.ts";

/** What the subscriber is asked to do, once. */
export interface SubscriberCommand {
  connection: RedisConnection;
  channel: string;
  /** Messages starting with this are the node's own and are dropped unparsed. */
  ownPrefix: string;
}

/** What the subscriber reports. Messages come in batches, raw; the main thread decodes them. */
export type SubscriberReport =
  /** `heardAt`: when the batch left the subscriber, so the reader can tell how far behind it is. */
  | { type: "messages"; messages: string[]; heardAt: number }
  | { type: "status"; state: "ready" | "down" }
  | { type: "error"; message: string };

/**
 * Subscribes and forwards everything heard on the channel. Messages that arrive in one read are
 * forwarded as one batch, so crossing a thread costs one post per read, not per message.
 */
export function runSubscriber(command: SubscriberCommand, report: (message: SubscriberReport) => void): Redis {
  const redis = new Redis({ ...redisOptions(command.connection), connectionName: "reverb-uws:subscriber" });
  let batch: string[] = [];
  const flush = () => {
    const messages = batch;
    batch = [];
    report({ type: "messages", messages, heardAt: Date.now() });
  };
  redis.on("message", (_channel: string, message: string) => {
    if (message.startsWith(command.ownPrefix)) return;
    if (batch.length === 0) queueMicrotask(flush);
    batch.push(message);
  });
  redis.on("ready", () => report({ type: "status", state: "ready" }));
  redis.on("close", () => report({ type: "status", state: "down" }));
  redis.on("error", (error: Error) => report({ type: "error", message: error.message }));
  redis.subscribe(command.channel).catch((error: Error) => report({ type: "error", message: error.message }));
  return redis;
}

/** A running subscriber, in a worker thread or in the socket loop's own thread. */
export interface Subscriber {
  stop(): void;
}

export function startSubscriber(mode: "worker" | "inline", command: SubscriberCommand, report: (message: SubscriberReport) => void): Subscriber {
  if (mode === "inline") {
    const redis = runSubscriber(command, report);
    return { stop: () => redis.disconnect() };
  }
  const worker = new Worker(new URL("./subscriber-worker.ts", import.meta.url).href);
  worker.onmessage = (event: MessageEvent<SubscriberReport>) => report(event.data);
  worker.postMessage(command);
  return { stop: () => worker.terminate() };
}
