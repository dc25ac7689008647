import * as v from "valibot";

/**
 * What nodes tell each other over Redis. Every envelope names its node (`n`) first, so a node can
 * skip its own messages by prefix without parsing them. No app secret ever travels: apps are
 * named by id and each node looks them up in its own config.
 */

const node = v.string();
const appId = v.string();
const channelData = v.record(v.string(), v.unknown());
const counts = v.record(v.string(), v.number());

const OccupancySchema = v.array(v.object({ a: appId, c: v.string(), s: v.number() }));

const RosterEntrySchema = v.object({ user: v.string(), data: channelData, sockets: v.number() });

export const EnvelopeSchema = v.variant("t", [
  /** A serialized frame for a channel's subscribers on every node; `x` is a socket to skip. */
  v.object({ n: node, t: v.literal("event"), a: appId, c: v.string(), f: v.string(), x: v.optional(v.string()) }),
  /** A user's socket joined or left a presence channel on node `n`. */
  v.object({ n: node, t: v.literal("join"), a: appId, c: v.string(), u: v.string(), d: channelData }),
  v.object({ n: node, t: v.literal("leave"), a: appId, c: v.string(), u: v.string() }),
  /** Liveness, with the node's open connections per app (fleet-wide `max_connections`) and its clock. */
  v.object({ n: node, t: v.literal("beat"), conns: counts, ts: v.number() }),
  /** "I (re)joined or may have missed messages: send me your state." */
  v.object({ n: node, t: v.literal("hello") }),
  /** A node's full presence share and connection counts; replaces what others knew of it. */
  v.object({
    n: node,
    t: v.literal("state"),
    conns: counts,
    presence: v.array(v.object({ a: appId, c: v.string(), members: v.array(RosterEntrySchema) })),
    /** Subscriber counts of channels with occupancy webhooks. */
    occ: v.optional(OccupancySchema, []),
  }),
  /** Node `n` now has `s` subscribers on a channel (sent only for apps with occupancy webhooks). */
  v.object({ n: node, t: v.literal("occupancy"), a: appId, c: v.string(), s: v.number() }),
  /** A request for per-node channel statistics, answered by every node with `reply`. */
  v.object({
    n: node,
    t: v.literal("query"),
    id: v.string(),
    a: appId,
    names: v.nullable(v.array(v.string())),
    prefix: v.nullable(v.string()),
  }),
  v.object({ n: node, t: v.literal("reply"), id: v.string(), to: v.string(), stats: v.object({ connections: v.number(), channels: counts }) }),
  /** A request for every worker's monitoring numbers (a box of workers answers `/metrics` whole). */
  v.object({ n: node, t: v.literal("report-ask"), id: v.string() }),
  v.object({ n: node, t: v.literal("report"), id: v.string(), to: v.string(), body: v.unknown() }),
  /** Every node drains its connections with 4200 and exits 0 (`reverb-uws restart`). */
  v.object({ n: node, t: v.literal("restart") }),
  /** Node `n` died (a worker of this box; the primary says so at once): drop what it held. */
  v.object({ n: node, t: v.literal("gone") }),
  /** The node is stopping: the others forget it now instead of after node_timeout. */
  v.object({ n: node, t: v.literal("bye") }),
  /** Close every socket of a presence or signed-in user, on every node. */
  v.object({ n: node, t: v.literal("terminate"), a: appId, u: v.string() }),
  /** Node `n` now has `k` subscribers on channel `c` (apps with `subscription_count`). */
  v.object({ n: node, t: v.literal("count"), a: appId, c: v.string(), k: v.number() }),
]);

export type Envelope = v.InferOutput<typeof EnvelopeSchema>;
export type EnvelopeOf<T extends Envelope["t"]> = Extract<Envelope, { t: T }>;
export type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Serializes with `n` first: the worker filters a node's own messages on that prefix. */
export function encodeEnvelope(nodeId: string, envelope: DistributiveOmit<Envelope, "n">): string {
  return JSON.stringify({ n: nodeId, ...envelope });
}

export function ownPrefix(nodeId: string): string {
  return `{"n":${JSON.stringify(nodeId)},`;
}

/** How a node's own heartbeat starts: it listens for those to know its link to the fleet works. */
export function ownBeatPrefix(nodeId: string): string {
  return `${ownPrefix(nodeId)}"t":"beat",`;
}

export function decodeEnvelope(text: string): Envelope | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const result = v.safeParse(EnvelopeSchema, parsed);
  return result.success ? result.output : null;
}
