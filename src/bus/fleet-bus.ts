import type { Logger } from "../log.ts";
import type { Bus, BusHealth, BusSink, NodeStats } from "./bus.ts";
import { decodeEnvelope, encodeEnvelope, type DistributiveOmit, type Envelope, type EnvelopeOf } from "./envelope.ts";

export type Outgoing = DistributiveOmit<Envelope, "n">;

export interface Peer {
  lastHeard: number;
  /** When it last asked for our state: it was subscribed then, so it hears what we send. */
  helloAt: number;
  connections: Record<string, number>;
  lagMs: number;
}

interface PendingQuery {
  waitingFor: Set<string>;
  replies: unknown[];
  done: () => void;
}

export interface FleetSettings {
  /** Seconds without a heartbeat after which a node's presence members are removed. */
  node_timeout: number;
  /** Milliseconds to wait for the other nodes' answers to an HTTP query. */
  query_timeout: number;
}

/**
 * The fleet protocol, whatever carries it (Redis pub/sub between boxes, IPC between the workers of
 * one box): heartbeats and who is alive, presence resyncs, fleet-wide queries, and every envelope
 * heard turned into a call on the core's `BusSink`. A subclass says how envelopes travel
 * (`transmit`) and hands what it hears to `receive`. Nodes announce themselves with heartbeats;
 * one that falls silent for `node_timeout` while our own heartbeats keep coming back is dropped
 * with its presence members.
 */
export abstract class FleetBus implements Bus {
  protected readonly peers = new Map<string, Peer>();
  private readonly pending = new Map<string, PendingQuery>();
  /**
   * When our own heartbeat last came back promptly: proof that the link carries messages both
   * ways, so that a peer silent meanwhile is silent of its own doing.
   */
  private heardSelfAt = 0;
  protected readonly beatMs: number;
  protected sink!: BusSink;
  private heartbeat: Timer | undefined;
  private lastResyncRequest = 0;
  private reportSource: (() => Promise<unknown>) | null = null;
  private querySequence = 0;
  /** The largest backlog seen in this heartbeat interval and in the one before. */
  protected backlogMs = 0;
  private previousBacklogMs = 0;

  constructor(
    readonly nodeId: string,
    private readonly settings: FleetSettings,
    protected readonly log: Logger,
    /** Called when `reverb-uws restart` reaches the fleet. */
    private readonly onRestart: () => void,
  ) {
    this.beatMs = (settings.node_timeout * 1000) / 4;
  }

  /** Sends one envelope to every other node (and, for heartbeats, back to this one). */
  protected abstract transmit(envelope: Outgoing): void;
  /** Whether envelopes both go out and come in now: a query is only asked then. */
  protected abstract get linked(): boolean;
  /** Whether we hear the fleet now: silence only counts against peers then. */
  protected abstract get hearing(): boolean;
  abstract stop(): Promise<void>;
  abstract health(): BusHealth | null;

  start(sink: BusSink): void {
    this.sink = sink;
    this.heartbeat = setInterval(() => this.beat(), this.beatMs);
  }

  protected stopBeating(): void {
    clearInterval(this.heartbeat);
  }

  event(appId: string, channel: string, frame: string, exceptSocketId: string | null): void {
    this.transmitEvent(appId, channel, exceptSocketId === null ? { t: "event", a: appId, c: channel, f: frame } : { t: "event", a: appId, c: channel, f: frame, x: exceptSocketId });
  }

  /** Every node hears every event (Redis): a subscriber here needs nothing more to hear its channel. */
  interest(_appId: string, _channel: string): Promise<void> | null {
    return null;
  }

  noInterest(_appId: string, _channel: string): void {}

  /** A carrier that knows where a channel's subscribers are may send its events only there. */
  protected transmitEvent(_appId: string, _channel: string, envelope: Omit<EnvelopeOf<"event">, "n">): void {
    this.transmit(envelope);
  }

  join(appId: string, channel: string, user: string, data: Record<string, unknown>): void {
    this.transmit({ t: "join", a: appId, c: channel, u: user, d: data });
  }

  leave(appId: string, channel: string, user: string): void {
    this.transmit({ t: "leave", a: appId, c: channel, u: user });
  }

  terminate(appId: string, user: string): void {
    this.transmit({ t: "terminate", a: appId, u: user });
  }

  subscriptionCount(appId: string, channel: string, count: number): void {
    this.transmit({ t: "count", a: appId, c: channel, k: count });
  }

  occupancy(appId: string, channel: string, count: number): void {
    this.transmit({ t: "occupancy", a: appId, c: channel, s: count });
  }

  peerIds(): Iterable<string> {
    return this.peers.keys();
  }

  remoteConnections(appId: string): number {
    let total = 0;
    for (const peer of this.peers.values()) total += peer.connections[appId] ?? 0;
    return total;
  }

  gatherStats(appId: string, names: string[] | null, prefix: string | null): Promise<NodeStats[]> {
    return this.askPeers((id) => ({ t: "query", id, a: appId, names, prefix })) as Promise<NodeStats[]>;
  }

  /** Only a box of workers answers `/metrics` for all: every node of a Redis fleet is scraped. */
  gatherReports(): Promise<unknown[]> {
    return Promise.resolve([]);
  }

  answerReports(source: () => Promise<unknown>): void {
    this.reportSource = source;
  }

  /** Asks every peer and resolves with their answers, or with those in by `query_timeout`. */
  protected askPeers(ask: (id: string) => Outgoing): Promise<unknown[]> {
    if (!this.linked || this.peers.size === 0) return Promise.resolve([]);
    const id = `${this.nodeId}:${++this.querySequence}`;
    return new Promise((resolve) => {
      const query: PendingQuery = {
        waitingFor: new Set(this.peers.keys()),
        replies: [],
        done: () => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(query.replies);
        },
      };
      const timer = setTimeout(() => {
        this.log.warn(`Fleet query ${id}: no answer from ${[...query.waitingFor].join(", ")} within ${this.settings.query_timeout} ms`);
        query.done();
      }, this.settings.query_timeout);
      this.pending.set(id, query);
      this.transmit(ask(id));
    });
  }

  private answered(id: string, from: string, answer: unknown): void {
    const query = this.pending.get(id);
    if (!query || !query.waitingFor.delete(from)) return;
    query.replies.push(answer);
    if (query.waitingFor.size === 0) query.done();
  }

  /** Peers, the slowest heartbeat and the loop's backlog, for `health()`. */
  protected fleetHealth(): { peers: number; lagMs: number; backlogMs: number } {
    let lagMs = 0;
    for (const peer of this.peers.values()) lagMs = Math.max(lagMs, peer.lagMs);
    return { peers: this.peers.size, lagMs, backlogMs: Math.max(this.backlogMs, this.previousBacklogMs) };
  }

  /** Tells the fleet our whole state and asks for theirs. */
  protected resync(): void {
    this.transmitState();
    this.transmit({ t: "hello" });
    this.lastResyncRequest = Date.now();
  }

  /** This node's whole share: connection counts, presence members, channel occupancy. */
  private transmitState(): void {
    this.transmit({ t: "state", conns: this.sink.connectionCounts(), presence: this.sink.presenceSnapshot(), occ: this.sink.occupancySnapshot() });
  }

  /** We hear the fleet again: whatever others said meanwhile is lost, so count them alive from now. */
  protected hearingAgain(): void {
    const now = Date.now();
    for (const peer of this.peers.values()) peer.lastHeard = now;
  }

  /** Drops a node and everything it held, and stops waiting for it in queries. */
  protected forget(node: string, why: string, expected = false): void {
    if (!this.peers.delete(node)) return;
    const line = `Node ${node} ${why}: removing its presence members`;
    if (expected) this.log.info(line);
    else this.log.warn(line);
    this.sink.replaceNode(node, null);
    for (const query of this.pending.values()) {
      if (query.waitingFor.delete(node) && query.waitingFor.size === 0) query.done();
    }
  }

  /** A peer said hello: it hears what we send from now on. */
  protected heardHello(_node: string): void {}

  private beat(): void {
    const now = Date.now();
    this.previousBacklogMs = this.backlogMs;
    this.backlogMs = 0;
    this.transmit({ t: "beat", conns: this.sink.connectionCounts(), ts: now });
    // Silence counts only while our own heartbeats come back (the last one, or the one before):
    // when they do not, the silence is ours (a stalled link, a lagging loop), not the peers'.
    if (!this.hearing || now - this.heardSelfAt > 2 * this.beatMs) return;
    const limit = this.settings.node_timeout * 1000;
    for (const [node, peer] of this.peers) {
      if (now - peer.lastHeard >= limit) this.forget(node, `silent for ${this.settings.node_timeout} s`);
    }
  }

  private hear(node: string, type: Envelope["t"]): Peer {
    let peer = this.peers.get(node);
    if (!peer) {
      peer = { lastHeard: 0, helloAt: 0, connections: {}, lagMs: 0 };
      this.peers.set(node, peer);
      this.log.info(`Node ${node} joined the fleet`);
      // A node we did not know (or had given up on) may hold members we never heard of.
      if (type !== "state" && type !== "hello" && Date.now() - this.lastResyncRequest > 1000) this.resync();
    }
    peer.lastHeard = Date.now();
    return peer;
  }

  /** One envelope heard from the fleet, as text. */
  protected receive(text: string): void {
    const envelope = decodeEnvelope(text);
    if (!envelope) {
      this.log.warn(`Fleet: ignoring a malformed envelope: ${text.slice(0, 200)}`);
      return;
    }
    // Only our heartbeats come back to us. One that took longer than a beat interval was held up
    // with everyone else's (a stall's backlog) and proves nothing about the others' silence.
    if (envelope.n === this.nodeId) {
      const now = Date.now();
      if (envelope.t === "beat" && now - envelope.ts < this.beatMs) this.heardSelfAt = now;
      return;
    }
    // The primary of a box tells its workers at once when one of them died; a stopping node says
    // goodbye itself. Either way the others stop counting on it now, not after node_timeout.
    if (envelope.t === "gone") return this.forget(envelope.n, "is gone");
    if (envelope.t === "bye") return this.forget(envelope.n, "left the fleet", true);
    // Sent by `reverb-uws restart`, which is no node.
    if (envelope.t === "restart") {
      this.log.info(`Restart requested through the fleet by ${envelope.n}`);
      return this.onRestart();
    }
    const peer = this.hear(envelope.n, envelope.t);
    const sink = this.sink;
    switch (envelope.t) {
      case "event":
        return sink.deliverLocal(envelope.a, envelope.c, envelope.f, envelope.x ?? null);
      case "join":
        return sink.remoteJoin(envelope.n, envelope.a, envelope.c, envelope.u, envelope.d);
      case "leave":
        return sink.remoteLeave(envelope.n, envelope.a, envelope.c, envelope.u);
      case "beat":
        peer.connections = envelope.conns;
        peer.lagMs = Math.max(0, Date.now() - envelope.ts);
        return;
      case "hello":
        peer.helloAt = Date.now();
        this.heardHello(envelope.n);
        this.transmitState();
        return;
      case "state":
        peer.connections = envelope.conns;
        return sink.replaceNode(envelope.n, envelope.presence, envelope.occ);
      case "occupancy":
        return sink.remoteOccupancy(envelope.n, envelope.a, envelope.c, envelope.s);
      case "count":
        return sink.remoteSubscriptionCount(envelope.n, envelope.a, envelope.c, envelope.k);
      case "query":
        void sink.localStats(envelope.a, envelope.names, envelope.prefix).then((stats) => this.transmit({ t: "reply", id: envelope.id, to: envelope.n, stats }));
        return;
      case "reply":
        if (envelope.to === this.nodeId) this.answered(envelope.id, envelope.n, envelope.stats);
        return;
      case "report-ask":
        void this.reportSource?.().then((body) => this.transmit({ t: "report", id: envelope.id, to: envelope.n, body }));
        return;
      case "report":
        if (envelope.to === this.nodeId) this.answered(envelope.id, envelope.n, envelope.body);
        return;
      case "terminate":
        return sink.terminateLocal(envelope.a, envelope.u);
    }
  }
}
