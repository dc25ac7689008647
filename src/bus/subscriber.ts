import Redis from "ioredis";
import { watchLiveness } from "./liveness.ts";
import { redisOptions, type RedisConnection } from "./redis-options.ts";
import { spawnSubscriberThread } from "./subscriber-thread.ts";

/** What the subscriber is asked to do, once. */
export interface SubscriberCommand {
  connection: RedisConnection;
  channel: string;
  /** Messages starting with this are the node's own and are dropped unparsed... */
  ownPrefix: string;
  /** ...but its heartbeats, starting with this, are let through: hearing them proves the link. */
  ownBeatPrefix: string;
  /** Milliseconds a PING may go unanswered before the connection counts as down and is redialled. */
  stallTimeout: number;
  /** Messages heard but not yet applied by the socket loop; past it new ones are dropped. */
  maxBacklog: number;
}

/** Socket loop → worker, repeatedly: how many forwarded messages it has applied so far. */
export interface Applied {
  applied: number;
}

/** What the subscriber reports. Messages come in batches, raw; the main thread decodes them. */
export type SubscriberReport =
  /**
   * `heardAt`: when the batch left the subscriber, so the reader can tell how far behind it is;
   * `dropped`: messages refused since the last batch because the backlog was full.
   */
  | { type: "messages"; messages: string[]; heardAt: number; dropped: number }
  /** `stalled`: a PING went unanswered for `stallTimeout`; the connection is being redialled. */
  | { type: "status"; state: "ready" | "down" | "stalled" }
  | { type: "error"; message: string };

export interface RunningSubscriber {
  stop(): void;
  /** The socket loop has applied this many forwarded messages in all. */
  applied(total: number): void;
}

/**
 * Subscribes and forwards everything heard on the channel. Messages that arrive in one read are
 * forwarded as one batch, so crossing a thread costs one post per read, not per message. Memory
 * is bounded: while `maxBacklog` messages wait for the socket loop, new ones are dropped and
 * counted instead of queued without end.
 */
export function runSubscriber(command: SubscriberCommand, report: (message: SubscriberReport) => void): RunningSubscriber {
  const redis = new Redis({ ...redisOptions(command.connection), connectionName: "reverb-uws:subscriber" });
  let batch: string[] = [];
  let forwarded = 0;
  let applied = 0;
  let dropped = 0;
  const flush = () => {
    const messages = batch;
    batch = [];
    report({ type: "messages", messages, heardAt: Date.now(), dropped });
    dropped = 0;
  };
  redis.on("message", (_channel: string, message: string) => {
    const full = forwarded - applied >= command.maxBacklog;
    // Our own heartbeat is no one's lost news: behind a full backlog it would prove nothing anyway.
    if (message.startsWith(command.ownPrefix) && (full || !message.startsWith(command.ownBeatPrefix))) return;
    if (batch.length === 0 && dropped === 0) queueMicrotask(flush);
    if (full) dropped++;
    else {
      forwarded++;
      batch.push(message);
    }
  });
  redis.on("ready", () => report({ type: "status", state: "ready" }));
  redis.on("close", () => report({ type: "status", state: "down" }));
  redis.on("error", (error: Error) => report({ type: "error", message: error.message }));
  redis.subscribe(command.channel).catch((error: Error) => report({ type: "error", message: error.message }));
  // Dropping the stalled connection at once means what other nodes had already written into the
  // stopped Redis goes to a closed socket when it wakes: the new connection subscribes only once
  // Redis answers again, so a stall's backlog is not replayed here as one burst.
  const stopWatching = watchLiveness(redis, command.stallTimeout, () => {
    report({ type: "status", state: "stalled" });
    redis.stream.destroy();
  });
  return {
    stop: () => {
      stopWatching();
      redis.disconnect();
    },
    applied: (total) => {
      applied = total;
    },
  };
}

/** A running subscriber, in a worker thread or in the socket loop's own thread. */
export interface Subscriber {
  stop(): void;
}

/** How often the socket loop tells the worker what it has applied; a blocked loop tells nothing. */
const ACK_INTERVAL_MS = 100;

/** `report` is called on the socket loop; each batch counts as applied once it returns. */
export function startSubscriber(mode: "worker" | "inline", command: SubscriberCommand, report: (message: SubscriberReport) => void): Subscriber {
  let applied = 0;
  const apply = (message: SubscriberReport) => {
    report(message);
    if (message.type === "messages") applied += message.messages.length;
  };
  if (mode === "inline") {
    const subscriber = runSubscriber(command, (message) => {
      apply(message);
      subscriber.applied(applied);
    });
    return { stop: () => subscriber.stop() };
  }
  const worker = spawnSubscriberThread(apply);
  worker.post(command);
  let told = 0;
  const acks = setInterval(() => {
    if (applied === told) return;
    told = applied;
    worker.post({ applied } satisfies Applied);
  }, ACK_INTERVAL_MS);
  return {
    stop: () => {
      clearInterval(acks);
      worker.terminate();
    },
  };
}
