import Redis from "ioredis";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ScalingConfig } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { BoundedQueue } from "./bounded-queue.ts";
import type { BusHealth, BusSink } from "./bus.ts";
import { encodeEnvelope, ownBeatPrefix, ownPrefix } from "./envelope.ts";
import { FleetBus, type Outgoing } from "./fleet-bus.ts";
import { watchLiveness } from "./liveness.ts";
import { redisOptions } from "./redis-options.ts";
import { startSubscriber, type Subscriber, type SubscriberReport } from "./subscriber.ts";

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** An envelope waiting for Redis. */
interface Held {
  text: string;
  /** When it started waiting, to drop it once it is older than `max_buffered_age`. */
  since: number;
  /** Kept whatever its age: a `terminate` must still reach the user's other sockets. */
  keep: boolean;
}

/**
 * Envelope characters (bytes, for ASCII) handed to ioredis and not yet acknowledged. Past it,
 * envelopes wait in our own bounded buffer: a Redis that accepts the TCP stream but answers nothing
 * (stopped, wedged) must not grow ioredis's command queue without end before the stall is seen.
 */
const MAX_IN_FLIGHT_BYTES = 256 * 1024;

/**
 * Waiting envelopes are resent in slices, one every PACE_TICK_MS, at twice the rate they arrived
 * at (but at least MIN_RESEND_PER_SECOND): clients that kept up with the live rate can take that,
 * and the backlog still shrinks as fast as it grew.
 */
const PACE_TICK_MS = 20;
const MIN_RESEND_PER_SECOND = 200;

/**
 * After an outage the resend waits until every peer has said hello again (it is subscribed, so
 * it will hear the resend), but no longer than this: a peer that had no outage says nothing.
 */
const RESEND_WAIT_MS = 1000;

/**
 * The fleet over one Redis pub/sub channel. Publishing happens here; subscribing runs in a worker
 * thread by default (`subscriber: "inline"` keeps it in this thread). A connection that answers no
 * PING within `stall_timeout` counts as lost like a closed one. While Redis is away, envelopes
 * wait in a bounded buffer and local clients are served as usual; on reconnection the fresh ones
 * are sent and every node resends its state.
 */
export class RedisBus extends FleetBus {
  private readonly channel: string;
  private readonly buffer: BoundedQueue<Held>;
  private inFlightBytes = 0;
  /** Evicted from the full buffer during the current outage. */
  private dropped = 0;
  /** Since when the buffer has not been empty, and how many envelopes entered it meanwhile. */
  private backlog = { since: 0, arrived: 0 };
  private pacing: Timer | undefined;
  /** Peers not yet heard to be subscribed again, while the resend waits for them. */
  private resendWait: { peers: Set<string>; timer: Timer } | null = null;
  private publisherDownAt = 0;
  private droppedTotal = 0;
  private stopWatching: (() => void) | undefined;
  private publisher!: Redis;
  private subscriber!: Subscriber;
  private subscriberUp = false;
  private publisherUp = false;
  private readonly outageLogged = { publisher: false, subscriber: false };
  private readonly where: string;

  constructor(
    private readonly config: ScalingConfig,
    log: Logger,
    /** Called when `reverb-uws restart` reaches the fleet. */
    onRestart: () => void,
  ) {
    super(`${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`, config, log, onRestart);
    this.channel = `${config.prefix}${config.channel}`;
    this.buffer = new BoundedQueue(config.max_buffered);
    const { server } = config;
    this.where =
      server.sentinels.length > 0
        ? `master ${server.sentinel_master} through Sentinels ${server.sentinels.join(",")}`
        : server.url
          ? redactPassword(server.url)
          : `${server.host}:${server.port}`;
  }

  override start(sink: BusSink): void {
    super.start(sink);
    this.log.info(`Scaling on: node ${this.nodeId}, Redis ${this.where}, channel ${this.channel}`);

    this.publisher = this.connectPublisher();

    this.subscriber = startSubscriber(
      this.config.subscriber,
      {
        connection: this.config.server,
        channel: this.channel,
        ownPrefix: ownPrefix(this.nodeId),
        ownBeatPrefix: ownBeatPrefix(this.nodeId),
        maxBacklog: this.config.max_backlog,
        stallTimeout: this.config.stall_timeout,
      },
      (report) => this.subscriberReport(report),
    );
  }

  /**
   * Tells the fleet we are going, so the others stop counting on us at once (the webhook sender
   * among them) rather than after node_timeout. Waits for Redis' answer, briefly.
   */
  private async bye(): Promise<void> {
    if (!this.publisherUp) return;
    const sent = this.publisher.publish(this.channel, encodeEnvelope(this.nodeId, { t: "bye" })).catch(() => 0);
    await Promise.race([sent, new Promise((resolve) => setTimeout(resolve, 500))]);
  }

  protected get linked(): boolean {
    return this.publisherUp && this.subscriberUp;
  }

  protected get hearing(): boolean {
    return this.subscriberUp;
  }

  /** A publisher connection, watched for stalls; a replaced one's events are ignored. */
  private connectPublisher(): Redis {
    const publisher = new Redis({
      ...redisOptions(this.config.server),
      enableOfflineQueue: false,
      // When Redis closes the connection, what it had not answered is resent once it is back and
      // settles then, which keeps the in-flight count true.
      autoResendUnfulfilledCommands: true,
      connectionName: "reverb-uws:publisher",
    });
    const current = () => publisher === this.publisher;
    publisher.on("ready", () => current() && this.publisherReady());
    publisher.on("close", () => current() && this.connectionLost("publisher"));
    publisher.on("error", (error: Error) => current() && this.connectionError("publisher", error.message));
    this.stopWatching = watchLiveness(publisher, this.config.stall_timeout, () => this.publisherStalled());
    return publisher;
  }

  /**
   * A new connection rather than a reconnection: closing the stalled one by hand makes ioredis
   * reject what it had in flight, which comes back to our buffer with its age, instead of being
   * resent by ioredis whatever its age once Redis answers.
   */
  private publisherStalled(): void {
    this.stalled("publisher");
    const stalled = this.publisher;
    this.stopWatching?.();
    this.publisher = this.connectPublisher();
    stalled.disconnect();
    stalled.stream.destroy();
  }

  async stop(): Promise<void> {
    await this.bye();
    this.stopBeating();
    clearTimeout(this.pacing);
    clearTimeout(this.resendWait?.timer);
    this.stopWatching?.();
    this.subscriber.stop();
    this.publisher.disconnect();
  }

  health(): BusHealth {
    return {
      ...this.fleetHealth(),
      kind: "redis",
      publisherConnected: this.publisherUp,
      subscriberConnected: this.subscriberUp,
      buffered: this.buffer.length,
      droppedTotal: this.droppedTotal,
    };
  }

  protected transmit(envelope: Outgoing): void {
    const text = encodeEnvelope(this.nodeId, envelope);
    if (envelope.t === "beat" || envelope.t === "hello" || envelope.t === "query" || envelope.t === "reply") return this.sendNow(text);
    const keep = envelope.t === "terminate";
    const now = Date.now();
    // Behind anything already waiting, so that envelopes leave in the order they were made.
    if (!this.publisherUp || this.buffer.length > 0 || this.inFlightBytes >= MAX_IN_FLIGHT_BYTES) this.hold(text, now, keep);
    else this.publish(text, now, keep);
  }

  /**
   * Heartbeats, hellos and fleet queries are worth nothing late and need no order: they skip the
   * buffer, going at once while the publisher is up and nowhere otherwise. Queued behind a
   * catch-up, a heartbeat would make this node look silent, and a hello would hold up the others'
   * resends (they wait for it).
   */
  private sendNow(text: string): void {
    if (this.publisherUp) this.publisher.publish(this.channel, text).catch(() => {});
  }

  private publish(text: string, since: number, keep: boolean): void {
    this.inFlightBytes += text.length;
    this.publisher.publish(this.channel, text).then(
      () => {
        this.inFlightBytes -= text.length;
        if (this.buffer.length > 0) this.pace();
      },
      () => {
        this.inFlightBytes -= text.length;
        this.hold(text, since, keep);
      },
    );
  }

  /** Keeps the newest `max_buffered` envelopes while Redis is away or behind. */
  private hold(text: string, since: number, keep: boolean): void {
    if (this.backlog.arrived++ === 0) this.backlog.since = since;
    if (!this.buffer.push({ text, since, keep })) return;
    this.droppedTotal++;
    if (this.dropped++ === 0) this.log.warn(`Redis unreachable or behind: buffer of ${this.config.max_buffered} envelopes full, dropping the oldest`);
  }

  /** Sends one slice of the waiting envelopes now and schedules the next; stale ones are dropped. */
  private pace(): void {
    if (this.pacing || this.resendWait || !this.publisherUp) return;
    const now = Date.now();
    const perSecond = Math.max(MIN_RESEND_PER_SECOND, (2 * this.backlog.arrived * 1000) / Math.max(now - this.backlog.since, 1));
    let slice = Math.ceil((perSecond * PACE_TICK_MS) / 1000);
    const oldest = now - this.config.max_buffered_age;
    while (slice > 0 && this.inFlightBytes < MAX_IN_FLIGHT_BYTES) {
      const held = this.buffer.shift();
      if (!held) break;
      if (held.since < oldest && !held.keep) {
        this.droppedTotal++;
        continue;
      }
      this.publish(held.text, held.since, held.keep);
      slice--;
    }
    if (this.buffer.length === 0) {
      this.backlog = { since: 0, arrived: 0 };
      return;
    }
    this.pacing = setTimeout(() => {
      this.pacing = undefined;
      this.pace();
    }, PACE_TICK_MS);
  }

  private publisherReady(): void {
    this.publisherUp = true;
    this.outageLogged.publisher = false;
    // Events older than max_buffered_age would reach clients as a burst of stale news; presence
    // changes among them are covered by the resync below.
    const oldest = Date.now() - this.config.max_buffered_age;
    const stale = this.buffer.removeWhere((held) => held.since < oldest && !held.keep);
    this.droppedTotal += stale;
    const waiting = this.buffer.length;
    const dropped = [
      this.dropped ? `${this.dropped} dropped from the full buffer` : "",
      stale ? `${stale} dropped as older than ${this.config.max_buffered_age} ms` : "",
    ].filter(Boolean);
    this.log.info(`Redis publisher connected${waiting ? `: sending ${waiting} buffered envelopes` : ""}${dropped.length ? `; ${dropped.join(", ")}` : ""}`);
    this.dropped = 0;
    this.resendWhenHeard();
    if (this.subscriberUp) this.resync();
  }

  /**
   * Redis drops what is published to a channel nobody has subscribed to yet, and after an outage
   * the others' subscribers may come back a moment after our publisher: start the resend once each
   * peer has said hello since the outage began, or after RESEND_WAIT_MS.
   */
  private resendWhenHeard(): void {
    clearTimeout(this.resendWait?.timer);
    this.resendWait = null;
    const silent = [...this.peers].filter(([, peer]) => peer.helloAt < this.publisherDownAt).map(([node]) => node);
    if (this.buffer.length > 0 && silent.length > 0) {
      this.resendWait = { peers: new Set(silent), timer: setTimeout(() => this.stopWaiting(), RESEND_WAIT_MS) };
    }
    this.pace();
  }

  private stopWaiting(): void {
    clearTimeout(this.resendWait?.timer);
    this.resendWait = null;
    this.pace();
  }

  private connectionLost(which: "publisher" | "subscriber"): void {
    if (!this.markDown(which) || this.outageLogged[which]) return;
    this.outageLogged[which] = true;
    this.log.warn(`Redis ${which} disconnected: serving local clients, reconnecting`);
  }

  /** A PING went unanswered for `stall_timeout`: the connection is being dropped and redialled. */
  private stalled(which: "publisher" | "subscriber"): void {
    if (!this.markDown(which) || this.outageLogged[which]) return;
    this.outageLogged[which] = true;
    this.log.warn(`Redis ${which} answered no PING within ${this.config.stall_timeout} ms: counting it as down, serving local clients, reconnecting`);
  }

  /** Returns whether the connection was up. */
  private markDown(which: "publisher" | "subscriber"): boolean {
    const wasUp = which === "publisher" ? this.publisherUp : this.subscriberUp;
    if (which === "publisher") {
      this.publisherUp = false;
      if (wasUp) this.publisherDownAt = Date.now();
    } else this.subscriberUp = false;
    return wasUp;
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
    } else if (report.state === "stalled") {
      this.stalled("subscriber");
    } else {
      this.subscriberUp = true;
      this.outageLogged.subscriber = false;
      this.log.info("Redis subscriber connected");
      this.hearingAgain();
      if (this.publisherUp) this.resync();
    }
  }

  /** A peer that said hello since the outage will hear the resend: stop waiting once all have. */
  protected override heardHello(node: string): void {
    if (this.resendWait?.peers.delete(node) && this.resendWait.peers.size === 0) this.stopWaiting();
  }
}
