import type { BoxBatch } from "../bus/box-bus.ts";
import { endOfTurn } from "../bus/end-of-turn.ts";
import { ownBeatPrefix } from "../bus/envelope.ts";
import type { Logger } from "../log.ts";
import type { ToWorker } from "./messages.ts";

/** One worker as the relay sees it. */
export interface RelayPeer {
  send(message: ToWorker): unknown;
}

interface Outbox {
  readonly peer: RelayPeer;
  /** How the worker's own heartbeats start, once its node id is known: those go back to it. */
  beatPrefix: string | null;
  /** The event routes this worker has a subscriber on. A new worker starts with none. */
  readonly interest: Set<string>;
  /** Batches heard from this worker; told back once one changed its interest. */
  batches: number;
  interestApplied: boolean;
  pending: string[];
  dropped: number;
  skipped: number;
  /** Dropping since it fell behind; logged once per episode. */
  behind: boolean;
  /** Envelopes sent to this worker so far, and how many it said it applied. */
  forwarded: number;
  applied: number;
}

/**
 * The box bus's hub, in the primary: every envelope a worker sends goes to every other worker,
 * except events, which go only to the workers with a subscriber on their channel (each batch
 * names every text's route, so nothing is parsed here). Presence and cache channels have no route
 * and reach every worker (see `eventRoute`). Batched per turn of the primary's loop (one IPC
 * message per worker per batch). A worker that falls `maxBacklog` envelopes behind (a blocked
 * loop) gets nothing more until it catches up: what it misses is dropped and counted, so one
 * wedged worker never makes the primary buffer without end.
 */
export class Relay {
  private readonly outboxes = new Map<number, Outbox>();
  private readonly flushSoon = endOfTurn(() => this.flush());

  constructor(
    private readonly maxBacklog: number,
    private readonly log: Logger,
  ) {}

  join(index: number, peer: RelayPeer): void {
    this.outboxes.set(index, {
      peer,
      beatPrefix: null,
      interest: new Set(),
      batches: 0,
      interestApplied: false,
      pending: [],
      dropped: 0,
      skipped: 0,
      behind: false,
      forwarded: 0,
      applied: 0,
    });
  }

  /** The worker's bus node id: its heartbeats come back to it, as Redis returns a node's own. */
  named(index: number, node: string): void {
    const outbox = this.outboxes.get(index);
    if (outbox) outbox.beatPrefix = ownBeatPrefix(node);
  }

  /** Its interest goes with it: a restarted worker announces its own. */
  leave(index: number): void {
    this.outboxes.delete(index);
  }

  applied(index: number, total: number): void {
    const outbox = this.outboxes.get(index);
    if (outbox) outbox.applied = total;
  }

  /**
   * A worker's batch. Its interest changes apply before anything else is routed; the worker hears
   * so with its next delivery, and every event routed to it after that follows in order.
   */
  batch(from: number, batch: BoxBatch): void {
    const outbox = this.outboxes.get(from);
    if (!outbox) return;
    outbox.batches++;
    if (batch.interest) {
      for (const [route, wanted] of batch.interest) {
        if (wanted) outbox.interest.add(route);
        else outbox.interest.delete(route);
      }
      outbox.interestApplied = true;
      this.flushSoon();
    }
    this.relay(from, batch.texts, batch.routes);
  }

  /**
   * Envelopes from worker `from` (or from the primary itself, with `from` null) for all others;
   * a text with a route goes only where that route is wanted.
   */
  relay(from: number | null, texts: readonly string[], routes: ReadonlyArray<string | null> | null = null): void {
    if (texts.length === 0) return;
    for (const [index, outbox] of this.outboxes) {
      if (index === from) {
        this.echoBeats(outbox, texts);
        continue;
      }
      let room = this.maxBacklog - (outbox.forwarded - outbox.applied) - outbox.pending.length;
      let wanted = 0;
      let dropped = 0;
      for (let i = 0; i < texts.length; i++) {
        const route = routes?.[i] ?? null;
        if (route !== null && !outbox.interest.has(route)) {
          outbox.skipped++;
          continue;
        }
        wanted++;
        if (room > 0) {
          outbox.pending.push(texts[i]!);
          room--;
        } else dropped++;
      }
      if (dropped > 0) {
        if (!outbox.behind) this.log.warn(`Worker ${index} is ${this.maxBacklog} bus envelopes behind: dropping what it cannot take`);
        outbox.behind = true;
        outbox.dropped += dropped;
      } else if (outbox.behind && wanted > 0) {
        outbox.behind = false;
        this.log.info(`Worker ${index} caught up with the bus`);
      }
    }
    this.flushSoon();
  }

  /** A worker hearing its own heartbeat knows the relay and its own loop carry messages. */
  private echoBeats(outbox: Outbox, texts: readonly string[]): void {
    if (outbox.beatPrefix === null) return;
    for (const text of texts) if (text.startsWith(outbox.beatPrefix)) outbox.pending.push(text);
  }

  private flush(): void {
    for (const [index, outbox] of this.outboxes) {
      if (outbox.pending.length === 0 && outbox.dropped === 0 && !outbox.interestApplied) continue;
      const message: ToWorker & { t: "bus" } = { t: "bus", texts: outbox.pending, dropped: outbox.dropped, skipped: outbox.skipped };
      if (outbox.interestApplied) message.batches = outbox.batches;
      try {
        outbox.peer.send(message);
      } catch {
        // The worker exited and its exit is not handled yet (a drain, a crash): nothing is owed to
        // it, and its successor starts afresh. Thrown here, it would end the primary.
        this.outboxes.delete(index);
        continue;
      }
      outbox.forwarded += outbox.pending.length;
      outbox.pending = [];
      outbox.dropped = 0;
      outbox.skipped = 0;
      outbox.interestApplied = false;
    }
  }
}
