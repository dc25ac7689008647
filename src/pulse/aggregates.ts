/** Pulse's periods, in minutes: the 1 h, 6 h, 24 h and 7 d views. */
export const PULSE_PERIODS = [60, 360, 1440, 10080] as const;

/** One `pulse_aggregates` row of the `count` aggregate, before it is added to the table. */
export interface AggregateRow {
  bucket: number;
  period: number;
  type: string;
  key: string;
  value: number;
}

/**
 * Counts waiting to be written, keyed the way Pulse pre-aggregates them (type, period, bucket,
 * key). Bounded by time, not traffic: one row per app, type, period and bucket.
 */
export class PendingAggregates {
  private readonly rows = new Map<string, AggregateRow>();

  get size(): number {
    return this.rows.size;
  }

  /** `count` events of `type` for `key` at `timestamp` (Unix seconds), into every period's bucket. */
  add(type: string, key: string, timestamp: number, count: number): void {
    if (count === 0) return;
    for (const period of PULSE_PERIODS) {
      const bucket = Math.floor(timestamp / period) * period;
      this.addRow({ bucket, period, type, key, value: count });
    }
  }

  /** Everything pending, leaving none. */
  take(): AggregateRow[] {
    const rows = [...this.rows.values()];
    this.rows.clear();
    return rows;
  }

  /**
   * Puts back rows a write could not store, merged with what came since, except those Pulse's
   * trim would already have deleted (bucket older than its period), so an outage cannot grow it.
   */
  restore(rows: AggregateRow[], now: number): void {
    for (const row of rows) {
      if (row.bucket > now - row.period * 60) this.addRow({ ...row });
    }
  }

  private addRow(row: AggregateRow): void {
    const id = `${row.type}\0${row.period}\0${row.bucket}\0${row.key}`;
    const existing = this.rows.get(id);
    if (existing) existing.value += row.value;
    else this.rows.set(id, row);
  }
}
