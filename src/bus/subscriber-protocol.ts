import type { RedisConnection } from "./redis-options.ts";

/** Main thread → subscriber worker, once; the worker is stopped by terminating it. */
export type SubscriberCommand = { type: "start"; connection: RedisConnection; channel: string; ownPrefix: string };

/** Subscriber worker → main thread. */
export type SubscriberReport =
  | { type: "messages"; messages: string[] }
  | { type: "status"; state: "ready" | "down" }
  | { type: "error"; message: string };
