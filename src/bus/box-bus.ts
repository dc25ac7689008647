import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../log.ts";
import { channelKind } from "../protocol/channels.ts";
import type { BusHealth, BusSink } from "./bus.ts";
import { endOfTurn } from "./end-of-turn.ts";
import { encodeEnvelope, type EnvelopeOf } from "./envelope.ts";
import { FleetBus, type FleetSettings, type Outgoing } from "./fleet-bus.ts";

/** One turn's envelopes for the other workers, and the routes this worker started or stopped wanting. */
export interface BoxBatch {
  texts: string[];
  /**
   * Per text, the route of an event (see `eventRoute`), or null for what every worker gets: the
   * primary routes without parsing a single envelope.
   */
  routes: Array<string | null>;
  /** Only the last change of a route in the turn: the primary has nothing to order in between. */
  interest?: Array<[route: string, wanted: boolean]>;
}

/** What the primary hands a worker in one IPC message. */
export interface BoxDelivery {
  texts: string[];
  /** Envelopes for this worker the primary refused since the last delivery: it was `maxBacklog` behind. */
  dropped: number;
  /** Events the primary kept from this worker since the last delivery: nobody here was on their channel. */
  skipped: number;
  /**
   * How many of this worker's batches the primary has applied, when one of them changed its
   * interest: every event routed after that point follows in later deliveries.
   */
  batches?: number;
}

/** How a worker talks to its primary, which relays envelopes to the box's other workers. */
export interface BoxLink {
  send(batch: BoxBatch): void;
  /** How many envelopes from the primary this worker has applied in all. */
  applied(total: number): void;
  onDelivery(listener: (delivery: BoxDelivery) => void): void;
}

/**
 * Where the primary sends a channel's events: only to the workers with a subscriber on it. Null
 * (every worker) for presence channels, whose `subscription_succeeded` lists members any worker's
 * events may have added, and for cache channels, whose last event every worker keeps for its
 * future subscribers.
 */
export function eventRoute(appId: string, channel: string): string | null {
  const kind = channelKind(channel);
  return kind.presence || kind.cache ? null : `${appId}\u0000${channel}`;
}

/** A route this worker asked for; `batch` is the batch that carries the request. */
interface Interest {
  readonly route: string;
  readonly batch: number;
  readonly ready: Promise<void>;
  readonly resolve: () => void;
}

/** How often the worker tells the primary how far it has got; a blocked loop tells nothing. */
const ACK_INTERVAL_MS = 100;

/**
 * The fleet of one box's workers (`start --workers N` without Redis): the same protocol as the
 * Redis fleet, carried over IPC through the primary. Envelopes made in one turn of the loop leave
 * as one IPC message. A channel's events reach this worker only once it has told the primary it
 * has a subscriber there (`interest`), so a worker never decodes events nobody here wants.
 */
export class BoxBus extends FleetBus {
  private texts: string[] = [];
  private routes: Array<string | null> = [];
  private readonly changes = new Map<string, boolean>();
  private readonly flushSoon = endOfTurn(() => this.flush());
  private batchesSent = 0;
  /** Routes with a subscriber here: the wait for the primary, or null once it has them. */
  private readonly interests = new Map<string, Interest | null>();
  /** Requests the primary has not applied yet, in batch order. */
  private unapplied: Interest[] = [];
  private applied = 0;
  private told = 0;
  private droppedTotal = 0;
  private skippedTotal = 0;
  private acks: Timer | undefined;

  constructor(
    private readonly link: BoxLink,
    settings: FleetSettings,
    log: Logger,
    onRestart: () => void,
  ) {
    super(`${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`, settings, log, onRestart);
  }

  override start(sink: BusSink): void {
    super.start(sink);
    this.link.onDelivery((delivery) => this.heard(delivery));
    this.acks = setInterval(() => {
      if (this.applied === this.told) return;
      this.told = this.applied;
      this.link.applied(this.applied);
    }, ACK_INTERVAL_MS);
    // A worker (re)started after the others: ask for their members, tell them ours (none yet).
    this.resync();
  }

  /** Says goodbye at once (the primary would say `gone` only once this process has exited). */
  async stop(): Promise<void> {
    this.stopBeating();
    clearInterval(this.acks);
    this.transmit({ t: "bye" });
    this.flush();
  }

  /**
   * The first subscriber here waits for the primary to apply the request (one round trip, in
   * order with everything else on the pipe): an event sent after its `subscription_succeeded`,
   * from any worker, is then routed here. Later ones wait for the same answer, or none.
   */
  override interest(appId: string, channel: string): Promise<void> | null {
    const route = eventRoute(appId, channel);
    if (route === null) return null;
    const known = this.interests.get(route);
    if (known !== undefined) return known?.ready ?? null;
    const { promise, resolve } = Promise.withResolvers<void>();
    const request: Interest = { route, batch: this.batchesSent + 1, ready: promise, resolve };
    this.interests.set(route, request);
    this.unapplied.push(request);
    this.change(route, true);
    return promise;
  }

  override noInterest(appId: string, channel: string): void {
    const route = eventRoute(appId, channel);
    if (route !== null && this.interests.delete(route)) this.change(route, false);
  }

  protected get linked(): boolean {
    return true;
  }

  protected get hearing(): boolean {
    return true;
  }

  health(): BusHealth {
    return {
      ...this.fleetHealth(),
      kind: "box",
      publisherConnected: true,
      subscriberConnected: true,
      buffered: 0,
      droppedTotal: this.droppedTotal,
      skippedTotal: this.skippedTotal,
    };
  }

  /** Whichever worker is scraped answers for the box: it asks the others for their numbers. */
  override gatherReports(): Promise<unknown[]> {
    return this.askPeers((id) => ({ t: "report-ask", id }));
  }

  protected transmit(envelope: Outgoing): void {
    this.queue(encodeEnvelope(this.nodeId, envelope), null);
  }

  protected override transmitEvent(appId: string, channel: string, envelope: Omit<EnvelopeOf<"event">, "n">): void {
    this.queue(encodeEnvelope(this.nodeId, envelope), eventRoute(appId, channel));
  }

  private queue(text: string, route: string | null): void {
    this.texts.push(text);
    this.routes.push(route);
    this.flushSoon();
  }

  private change(route: string, wanted: boolean): void {
    this.changes.set(route, wanted);
    this.flushSoon();
  }

  private flush(): void {
    if (this.texts.length === 0 && this.changes.size === 0) return;
    const batch: BoxBatch = { texts: this.texts, routes: this.routes };
    if (this.changes.size !== 0) {
      batch.interest = [...this.changes];
      this.changes.clear();
    }
    this.texts = [];
    this.routes = [];
    this.batchesSent++;
    this.link.send(batch);
  }

  private heard(delivery: BoxDelivery): void {
    if (delivery.dropped > 0) {
      this.droppedTotal += delivery.dropped;
      this.log.warn(`Socket loop ${delivery.dropped} box envelopes behind: the primary dropped them`);
    }
    this.skippedTotal += delivery.skipped;
    for (const text of delivery.texts) this.receive(text);
    this.applied += delivery.texts.length;
    if (delivery.batches !== undefined) this.interestApplied(delivery.batches);
  }

  private interestApplied(batches: number): void {
    let done = 0;
    while (done < this.unapplied.length && this.unapplied[done]!.batch <= batches) done++;
    // One splice: a burst of new channels (a reconnect storm) can leave thousands waiting.
    for (const request of this.unapplied.splice(0, done)) {
      if (this.interests.get(request.route) === request) this.interests.set(request.route, null);
      request.resolve();
    }
  }
}
