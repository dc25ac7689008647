import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "../log.ts";
import type { BusHealth, BusSink } from "./bus.ts";
import { encodeEnvelope } from "./envelope.ts";
import { FleetBus, type FleetSettings, type Outgoing } from "./fleet-bus.ts";

/** How a worker talks to its primary, which relays envelopes to the box's other workers. */
export interface BoxLink {
  /** Envelopes for every other worker, batched. */
  send(texts: string[]): void;
  /** How many envelopes from the primary this worker has applied in all. */
  applied(total: number): void;
  /** `texts` from the other workers; `dropped`: envelopes the primary refused us meanwhile. */
  onEnvelopes(listener: (texts: string[], dropped: number) => void): void;
}

/** How often the worker tells the primary how far it has got; a blocked loop tells nothing. */
const ACK_INTERVAL_MS = 100;

/**
 * The fleet of one box's workers (`start --workers N` without Redis): the same protocol as the
 * Redis fleet, carried over IPC through the primary. Envelopes made in one turn of the loop leave
 * as one IPC message.
 */
export class BoxBus extends FleetBus {
  private outgoing: string[] = [];
  private applied = 0;
  private told = 0;
  private droppedTotal = 0;
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
    this.link.onEnvelopes((texts, dropped) => this.heard(texts, dropped));
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

  protected get linked(): boolean {
    return true;
  }

  protected get hearing(): boolean {
    return true;
  }

  health(): BusHealth {
    return { ...this.fleetHealth(), kind: "box", publisherConnected: true, subscriberConnected: true, buffered: 0, droppedTotal: this.droppedTotal };
  }

  /** Whichever worker is scraped answers for the box: it asks the others for their numbers. */
  override gatherReports(): Promise<unknown[]> {
    return this.askPeers((id) => ({ t: "report-ask", id }));
  }

  protected transmit(envelope: Outgoing): void {
    if (this.outgoing.push(encodeEnvelope(this.nodeId, envelope)) === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    if (this.outgoing.length === 0) return;
    const texts = this.outgoing;
    this.outgoing = [];
    this.link.send(texts);
  }

  private heard(texts: string[], dropped: number): void {
    if (dropped > 0) {
      this.droppedTotal += dropped;
      this.log.warn(`Socket loop ${dropped} box envelopes behind: the primary dropped them`);
    }
    for (const text of texts) this.receive(text);
    this.applied += texts.length;
  }
}
