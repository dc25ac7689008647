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
  pending: string[];
  dropped: number;
  /** Dropping since it fell behind; logged once per episode. */
  behind: boolean;
  /** Envelopes sent to this worker so far, and how many it said it applied. */
  forwarded: number;
  applied: number;
}

/**
 * The box bus's hub, in the primary: every envelope a worker sends goes to every other worker,
 * batched per turn of the primary's loop (one IPC message per worker per batch). A worker that
 * falls `maxBacklog` envelopes behind (a blocked loop) gets nothing more until it catches up:
 * what it misses is dropped and counted, so one wedged worker never makes the primary buffer
 * without end.
 */
export class Relay {
  private readonly outboxes = new Map<number, Outbox>();
  private flushing = false;

  constructor(
    private readonly maxBacklog: number,
    private readonly log: Logger,
  ) {}

  join(index: number, peer: RelayPeer): void {
    this.outboxes.set(index, { peer, beatPrefix: null, pending: [], dropped: 0, behind: false, forwarded: 0, applied: 0 });
  }

  /** The worker's bus node id: its heartbeats come back to it, as Redis returns a node's own. */
  named(index: number, node: string): void {
    const outbox = this.outboxes.get(index);
    if (outbox) outbox.beatPrefix = ownBeatPrefix(node);
  }

  leave(index: number): void {
    this.outboxes.delete(index);
  }

  applied(index: number, total: number): void {
    const outbox = this.outboxes.get(index);
    if (outbox) outbox.applied = total;
  }

  /** Envelopes from worker `from` (or from the primary itself, with `from` null) for all others. */
  relay(from: number | null, texts: readonly string[]): void {
    for (const [index, outbox] of this.outboxes) {
      if (index === from) {
        this.echoBeats(outbox, texts);
        continue;
      }
      const room = this.maxBacklog - (outbox.forwarded - outbox.applied) - outbox.pending.length;
      const taken = Math.max(0, Math.min(room, texts.length));
      for (let i = 0; i < taken; i++) outbox.pending.push(texts[i]!);
      if (taken < texts.length) {
        if (!outbox.behind) this.log.warn(`Worker ${index} is ${this.maxBacklog} bus envelopes behind: dropping what it cannot take`);
        outbox.behind = true;
        outbox.dropped += texts.length - taken;
      } else if (outbox.behind) {
        outbox.behind = false;
        this.log.info(`Worker ${index} caught up with the bus`);
      }
    }
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** A worker hearing its own heartbeat knows the relay and its own loop carry messages. */
  private echoBeats(outbox: Outbox, texts: readonly string[]): void {
    if (outbox.beatPrefix === null) return;
    for (const text of texts) if (text.startsWith(outbox.beatPrefix)) outbox.pending.push(text);
  }

  private flush(): void {
    this.flushing = false;
    for (const outbox of this.outboxes.values()) {
      if (outbox.pending.length === 0 && outbox.dropped === 0) continue;
      outbox.peer.send({ t: "bus", texts: outbox.pending, dropped: outbox.dropped });
      outbox.forwarded += outbox.pending.length;
      outbox.pending = [];
      outbox.dropped = 0;
    }
  }
}
