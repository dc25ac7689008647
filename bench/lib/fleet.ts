import type { Children } from "./children.ts";
import { withTimeout } from "./clock.ts";
import { startRedis, type RedisProcess } from "./redis.ts";
import { configFile, startOurs, type FleetKind, type ServerOptions, type Target } from "./targets.ts";

/** Subscribing and hearing a peer take a few round trips to a local Redis; past this the fleet is broken. */
const READY_TIMEOUT_MS = 15_000;

/** Lines our server logs about the fleet (src/bus/redis-bus.ts), and what they tell the bench. */
const SUBSCRIBED = "Redis subscriber connected";
const PEER_JOINED = "joined the fleet";
const SUBSCRIBER_LOST = "Redis subscriber disconnected";

/** Follows one node's log: resolves on the lines start-up waits for, counts subscriber losses. */
function nodeLog() {
  const subscribed = Promise.withResolvers<void>();
  const peerJoined = Promise.withResolvers<void>();
  let disconnects = 0;
  return {
    subscribed: subscribed.promise,
    peerJoined: peerJoined.promise,
    disconnects: () => disconnects,
    onLine(line: string) {
      if (line.includes(SUBSCRIBED)) subscribed.resolve();
      else if (line.includes(PEER_JOINED)) peerJoined.resolve();
      else if (line.includes(SUBSCRIBER_LOST)) disconnects++;
    },
  };
}

/**
 * Two of our servers with scaling on, sharing a redis-server started for this run: node A takes
 * the HTTP triggers and publishes them, node B holds the subscribers and receives over Redis. The
 * returned target measures node B (`pid`, `wsUrl`) and triggers on node A (`apiBase`).
 *
 * Node B starts first and alone, so the one pub/sub client Redis then lists is B's subscriber: the
 * burst reads that client's output buffer. Ready means B has heard A through Redis.
 */
export async function startFleet(kind: FleetKind, children: Children, server: ServerOptions): Promise<Target> {
  const subscriber = kind === "ours-worker" ? "worker" : "inline";
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    // Nodes before Redis, so they do not log a reconnection storm on the way out.
    for (const part of started.reverse()) await part.stop();
  };
  try {
    const redis: RedisProcess = await startRedis(children);
    started.push(redis);
    const scaling = { enabled: true, subscriber, server: { url: redis.url } };

    const logB = nodeLog();
    const nodeB = await startOurs(`${kind}-B`, configFile(scaling), children, server, logB.onLine);
    started.push(nodeB);
    await withTimeout(logB.subscribed, READY_TIMEOUT_MS, `node B's Redis subscriber`);
    const pubsub = await redis.pubsubClients();
    if (pubsub.length !== 1) throw new Error(`expected node B's subscriber alone on Redis, found ${pubsub.length} pub/sub clients`);

    // Only node B's main thread is ever stalled: node A must keep taking triggers.
    const nodeA = await startOurs(`${kind}-A`, configFile(scaling), children, { ...server, stall: null });
    started.push(nodeA);
    await withTimeout(logB.peerJoined, READY_TIMEOUT_MS, "node B to hear node A through Redis");

    return {
      kind,
      pid: nodeB.pid,
      wsUrl: nodeB.wsUrl,
      apiBase: nodeA.apiBase,
      ...(nodeB.toggleStall ? { toggleStall: nodeB.toggleStall } : {}),
      fleet: {
        publisherPid: nodeA.pid,
        redisPid: redis.pid,
        subscriberId: pubsub[0]!.id,
        pubsubClients: () => redis.pubsubClients(),
        subscriberDisconnects: logB.disconnects,
      },
      tail: () => `--- node A ---\n${nodeA.tail()}\n--- node B ---\n${nodeB.tail()}`,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
