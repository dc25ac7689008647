import type { PulseConfig } from "../config/schema.ts";
import type { AppState } from "../core/app-state.ts";
import type { LaravelDatabase } from "../laravel/database.ts";
import type { Logger } from "../log.ts";
import { PendingAggregates } from "./aggregates.ts";
import { writeCounts } from "./writer.ts";

export interface PulseRecorderOptions {
  apps: Iterable<AppState>;
  db: LaravelDatabase;
  config: PulseConfig;
  log: Logger;
  clock?: () => number;
}

/** What Reverb's `ReverbMessages` recorder records, per app: frames sent and messages handled. */
const SENT = "reverb_message:sent";
const RECEIVED = "reverb_message:received";

const FINAL_WRITE_MS = 3_000;

/**
 * Reverb's Pulse messages card without PHP. It reads the counters the hub keeps anyway
 * (`messagesSent`, `messagesReceived`), so the socket loop pays nothing more. The counts are cut
 * at every minute boundary, so each lands in the bucket its minute belongs to, and written every
 * `ingest_interval` seconds off the socket loop's critical path. A failed write keeps its
 * counts for the next one and is logged once per outage.
 */
export class PulseRecorder {
  private readonly apps: AppState[];
  private readonly seen = new Map<AppState, { sent: number; received: number }>();
  private readonly pending = new PendingAggregates();
  private readonly clock: () => number;
  private sliceStart: number;
  private nextFlush: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private writing: Promise<void> | null = null;
  private outage = false;

  constructor(private readonly options: PulseRecorderOptions) {
    this.apps = [...options.apps];
    this.clock = options.clock ?? Date.now;
    this.sliceStart = this.clock();
    this.nextFlush = this.sliceStart + options.config.ingest_interval * 1000;
    for (const app of this.apps) this.seen.set(app, { sent: app.messagesSent, received: app.messagesReceived });
  }

  start(): void {
    this.options.log.info(
      `Pulse: writing Reverb message counts to ${this.options.db.kind} table pulse_aggregates every ${this.options.config.ingest_interval} s` +
        (this.options.config.sample_rate === 1 ? "" : ` (scaled by sample_rate ${this.options.config.sample_rate})`),
    );
    this.schedule();
  }

  /**
   * Writes what is left (a restart loses no counts), then closes the connection. A database that
   * does not answer within `FINAL_WRITE_MS` does not hold the exit up.
   */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.cut();
    const last = (async () => {
      await this.writing;
      await this.flush();
    })();
    await Promise.race([last, Bun.sleep(FINAL_WRITE_MS)]);
    void this.options.db.close().catch(() => {});
  }

  private schedule(): void {
    const now = this.clock();
    const nextMinute = Math.floor(now / 60_000) * 60_000 + 60_000;
    this.timer = setTimeout(() => this.tick(), Math.max(Math.min(nextMinute, this.nextFlush) - now, 0));
  }

  private tick(): void {
    this.cut();
    if (this.clock() >= this.nextFlush) {
      this.nextFlush += this.options.config.ingest_interval * 1000;
      void this.flush();
    }
    this.schedule();
  }

  /** Moves the counts since the last cut into the bucket of the minute they were counted in. */
  private cut(): void {
    const timestamp = Math.floor(this.sliceStart / 1000);
    const rate = this.options.config.sample_rate;
    for (const app of this.apps) {
      const seen = this.seen.get(app)!;
      this.pending.add(SENT, app.id, timestamp, scaled(app.messagesSent - seen.sent, rate));
      this.pending.add(RECEIVED, app.id, timestamp, scaled(app.messagesReceived - seen.received, rate));
      seen.sent = app.messagesSent;
      seen.received = app.messagesReceived;
    }
    this.sliceStart = this.clock();
  }

  private flush(): Promise<void> {
    // One write at a time; counts cut meanwhile wait for the next.
    if (this.writing) return this.writing;
    const rows = this.pending.take();
    if (rows.length === 0) return Promise.resolve();
    this.writing = writeCounts(this.options.db, rows)
      .then(() => {
        if (this.outage) this.options.log.info("Pulse: writing to pulse_aggregates again, counts kept during the outage included");
        this.outage = false;
      })
      .catch((error: Error) => {
        this.pending.restore(rows, Math.floor(this.clock() / 1000));
        if (!this.outage) this.options.log.warn(`Pulse: cannot write to pulse_aggregates (${error.message}); keeping the counts for the next write`);
        this.outage = true;
      })
      .finally(() => {
        this.writing = null;
      });
    return this.writing;
  }
}

/** Pulse shows a sampled count times 1/sample_rate; values are decimal(20, 2). */
function scaled(count: number, rate: number): number {
  return rate === 1 ? count : Math.round(count * rate * 100) / 100;
}
