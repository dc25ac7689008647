import Redis from "ioredis";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ScalingConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import type { Bus, BusHealth, BusSink, NodeStats } from "./bus.ts";
import { decodeEnvelope, encodeEnvelope, ownPrefix, type DistributiveOmit, type Envelope } from "./envelope.ts";
import { redisOptions } from "./redis-options.ts";
import { startSubscriber, type Subscriber, type SubscriberReport } from "./subscriber.ts";

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

interface Peer {
  lastHeard: number;
  connections: Record<string, number>;
  lagMs: number;
}

interface PendingQuery {
  waitingFor: Set<string>;
  replies: NodeStats[];
  done: () => void;
}

/**
 * The fleet over one Redis pub/sub channel. Publishing happens here; subscribing runs in a worker
 * thread by default (`subscriber: "inline"` keeps it in this thread). Nodes announce themselves with heartbeats; one that falls silent for `node_timeout` is
 * dropped with its presence members. While Redis is away, envelopes wait in a bounded buffer and
 * local clients are served as usual; on reconnection every node resends its state.
 */
export class RedisBus implements Bus {
  readonly nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly channel: string;
  private readonly peers = new Map<string, Peer>();
  private readonly pending = new Map<string, PendingQuery>();
  private buffer: string[] = [];
  private dropped = 0;
  private droppedTotal = 0;
  private sink!: BusSink;
  private publisher!: Redis;
  private subscriber!: Subscriber;
  private subscriberUp = false;
  private publisherUp = false;
  private heartbeat: Timer | undefined;
  private lastResyncRequest = 0;
  private querySequence = 0;
  private readonly outageLogged = { publisher: false, subscriber: false };
  /** The largest backlog seen in this heartbeat interval and in the one before. */
  private backlogMs = 0;
  private previousBacklogMs = 0;
  private readonly where: string;

  constructor(
    private readonly config: ScalingConfig,
    private readonly log: Logger,
    /** Called when `reverb-uws restart` reaches the fleet. */
    private readonly onRestart: () => void,
  ) {
    this.channel = `${config.prefix}${config.channel}`;
    this.where = config.server.url ? redactPassword(config.server.url) : `${config.server.host}:${config.server.port}`;
  }

  start(sink: BusSink): void {
    this.sink = sink;
    this.log.info(`Scaling on: node ${this.nodeId}, Redis ${this.where}, channel ${this.channel}`);

    this.publisher = new Redis({ ...redisOptions(this.config.server), enableOfflineQueue: false, connectionName: "reverb-uws:publisher" });
    this.publisher.on("ready", () => this.publisherReady());
    this.publisher.on("close", () => this.connectionLost("publisher"));
    this.publisher.on("error", (error: Error) => this.connectionError("publisher", error.message));

    this.subscriber = startSubscriber(
      this.config.subscriber,
      { connection: this.config.server, channel: this.channel, ownPrefix: ownPrefix(this.nodeId), maxBacklog: this.config.max_backlog },
      (report) => this.subscriberReport(report),
    );

    const beatMs = (this.config.node_timeout * 1000) / 4;
    this.heartbeat = setInterval(() => this.beat(), beatMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.subscriber.stop();
    this.publisher.disconnect();
  }

  event(appId: string, channel: string, frame: string, exceptSocketId: string | null): void {
    this.send(exceptSocketId === null ? { t: "event", a: appId, c: channel, f: frame } : { t: "event", a: appId, c: channel, f: frame, x: exceptSocketId });
  }

  join(appId: string, channel: string, user: string, data: Record<string, unknown>): void {
    this.send({ t: "join", a: appId, c: channel, u: user, d: data });
  }

  leave(appId: string, channel: string, user: string): void {
    this.send({ t: "leave", a: appId, c: channel, u: user });
  }

  terminate(appId: string, user: string): void {
    this.send({ t: "terminate", a: appId, u: user });
  }

  remoteConnections(appId: string): number {
    let total = 0;
    for (const peer of this.peers.values()) total += peer.connections[appId] ?? 0;
    return total;
  }

  gatherStats(appId: string, names: string[] | null, prefix: string | null): Promise<NodeStats[]> {
    if (!this.publisherUp || !this.subscriberUp || this.peers.size === 0) return Promise.resolve([]);
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
        this.log.warn(`Fleet query ${id}: no answer from ${[...query.waitingFor].join(", ")} within ${this.config.query_timeout} ms`);
        query.done();
      }, this.config.query_timeout);
      this.pending.set(id, query);
      this.send({ t: "query", id, a: appId, names, prefix });
    });
  }

  health(): BusHealth {
    let lagMs = 0;
    for (const peer of this.peers.values()) lagMs = Math.max(lagMs, peer.lagMs);
    return {
      backlogMs: Math.max(this.backlogMs, this.previousBacklogMs),
      publisherConnected: this.publisherUp,
      subscriberConnected: this.subscriberUp,
      peers: this.peers.size,
      buffered: this.buffer.length,
      droppedTotal: this.droppedTotal,
      lagMs,
    };
  }

  private send(envelope: DistributiveOmit<Envelope, "n">): void {
    const text = encodeEnvelope(this.nodeId, envelope);
    if (!this.publisherUp) return this.hold(text);
    this.publisher.publish(this.channel, text).catch(() => this.hold(text));
  }

  /** Keeps the newest `max_buffered` envelopes while Redis is away. */
  private hold(text: string): void {
    this.buffer.push(text);
    if (this.buffer.length > this.config.max_buffered) {
      this.buffer.shift();
      this.droppedTotal++;
      if (this.dropped++ === 0) this.log.warn(`Redis unreachable: buffer of ${this.config.max_buffered} envelopes full, dropping the oldest`);
    }
  }

  private publisherReady(): void {
    this.publisherUp = true;
    this.outageLogged.publisher = false;
    const held = this.buffer;
    this.buffer = [];
    this.log.info(`Redis publisher connected${held.length ? `: sending ${held.length} buffered envelopes` : ""}${this.dropped ? `, ${this.dropped} were dropped` : ""}`);
    this.dropped = 0;
    if (held.length) {
      const pipeline = this.publisher.pipeline();
      for (const text of held) pipeline.publish(this.channel, text);
      pipeline.exec().catch((error: Error) => this.log.warn(`Redis: resending buffered envelopes failed: ${error.message}`));
    }
    if (this.subscriberUp) this.resync();
  }

  private connectionLost(which: "publisher" | "subscriber"): void {
    const wasUp = which === "publisher" ? this.publisherUp : this.subscriberUp;
    if (which === "publisher") this.publisherUp = false;
    else this.subscriberUp = false;
    if (wasUp) this.log.warn(`Redis ${which} disconnected: serving local clients, reconnecting`);
    this.outageLogged[which] ||= wasUp;
  }

  /** One line per outage, whether Redis was never reached or went away. */
  private connectionError(which: "publisher" | "subscriber", message: string): void {
    this.log.debug(`Redis ${which} error`, message);
    if (this.outageLogged[which]) return;
    this.outageLogged[which] = true;
    this.log.warn(`Redis ${which} cannot reach ${this.where}: ${message}; serving local clients, retrying with back-off`);
  }

  private subscriberReport(report: SubscriberReport): void {
    if (report.type === "messages") {
      this.backlogMs = Math.max(this.backlogMs, Date.now() - report.heardAt);
      if (report.dropped > 0) {
        this.droppedTotal += report.dropped;
        this.log.warn(`Socket loop ${this.config.max_backlog} messages behind Redis: dropped ${report.dropped} incoming envelopes`);
      }
      for (const text of report.messages) this.receive(text);
    } else if (report.type === "error") {
      this.connectionError("subscriber", report.message);
    } else if (report.state === "down") {
      this.connectionLost("subscriber");
    } else {
      this.subscriberUp = true;
      this.outageLogged.subscriber = false;
      this.log.info("Redis subscriber connected");
      // Whatever others said while we could not hear is lost: count them alive from now, and ask.
      const now = Date.now();
      for (const peer of this.peers.values()) peer.lastHeard = now;
      if (this.publisherUp) this.resync();
    }
  }

  /** Tells the fleet our whole state and asks for theirs. */
  private resync(): void {
    this.send({ t: "state", conns: this.sink.connectionCounts(), presence: this.sink.presenceSnapshot() });
    this.send({ t: "hello" });
    this.lastResyncRequest = Date.now();
  }

  private beat(): void {
    const now = Date.now();
    this.previousBacklogMs = this.backlogMs;
    this.backlogMs = 0;
    this.send({ t: "beat", conns: this.sink.connectionCounts(), ts: now });
    if (!this.subscriberUp) return;
    const limit = this.config.node_timeout * 1000;
    for (const [node, peer] of this.peers) {
      if (now - peer.lastHeard < limit) continue;
      this.peers.delete(node);
      this.log.warn(`Node ${node} silent for ${this.config.node_timeout} s: removing its presence members`);
      this.sink.replaceNode(node, null);
      for (const query of this.pending.values()) {
        if (query.waitingFor.delete(node) && query.waitingFor.size === 0) query.done();
      }
    }
  }

  private hear(node: string, type: Envelope["t"]): Peer {
    let peer = this.peers.get(node);
    if (!peer) {
      peer = { lastHeard: 0, connections: {}, lagMs: 0 };
      this.peers.set(node, peer);
      this.log.info(`Node ${node} joined the fleet`);
      // A node we did not know (or had given up on) may hold members we never heard of.
      if (type !== "state" && type !== "hello" && Date.now() - this.lastResyncRequest > 1000) this.resync();
    }
    peer.lastHeard = Date.now();
    return peer;
  }

  private receive(text: string): void {
    const envelope = decodeEnvelope(text);
    if (!envelope) {
      this.log.warn(`Redis: ignoring a malformed envelope: ${text.slice(0, 200)}`);
      return;
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
        this.send({ t: "state", conns: sink.connectionCounts(), presence: sink.presenceSnapshot() });
        return;
      case "state":
        peer.connections = envelope.conns;
        return sink.replaceNode(envelope.n, envelope.presence);
      case "query":
        void sink.localStats(envelope.a, envelope.names, envelope.prefix).then((stats) => this.send({ t: "reply", id: envelope.id, to: envelope.n, stats }));
        return;
      case "reply": {
        if (envelope.to !== this.nodeId) return;
        const query = this.pending.get(envelope.id);
        if (!query || !query.waitingFor.delete(envelope.n)) return;
        query.replies.push(envelope.stats);
        if (query.waitingFor.size === 0) query.done();
        return;
      }
      case "terminate":
        return sink.terminateLocal(envelope.a, envelope.u);
      case "restart":
        this.log.info(`Restart requested through Redis by ${envelope.n}`);
        return this.onRestart();
    }
  }
}
