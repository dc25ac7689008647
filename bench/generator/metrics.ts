import { wallMs } from "../lib/clock.ts";
import { emptyHistogram, record, type Histogram } from "../lib/histogram.ts";
import type { Snapshot } from "../lib/protocol.ts";

/**
 * One generator's counters. The runner marks every generator at once and snapshots them at
 * once, so each number covers the same measured window in every process.
 */
export class Metrics {
  received = 0;
  latency: Histogram = emptyHistogram();
  sent = 0;
  failed = 0;
  requestLatency: Histogram = emptyHistogram();
  otherFrames = 0;
  closed = 0;
  firstError: string | null = null;
  /** Wall clock (lib/clock.ts) of the latest delivery and of the latest completed request; 0: none. */
  lastDeliveredAt = 0;
  lastCompletedAt = 0;
  private cpu = process.cpuUsage();
  private wallStart = performance.now();

  delivered(latencyMs: number): void {
    this.received++;
    this.lastDeliveredAt = wallMs();
    record(this.latency, latencyMs * 1000);
  }

  completed(latencyMs: number): void {
    this.sent++;
    this.lastCompletedAt = wallMs();
    record(this.requestLatency, latencyMs * 1000);
  }

  error(message: string): void {
    this.failed++;
    this.firstError ??= message;
  }

  mark(): void {
    this.received = 0;
    this.latency = emptyHistogram();
    this.sent = 0;
    this.failed = 0;
    this.requestLatency = emptyHistogram();
    this.otherFrames = 0;
    this.closed = 0;
    this.firstError = null;
    this.lastDeliveredAt = 0;
    this.lastCompletedAt = 0;
    this.cpu = process.cpuUsage();
    this.wallStart = performance.now();
  }

  snapshot(): Snapshot {
    const cpu = process.cpuUsage(this.cpu);
    return {
      received: this.received,
      latency: this.latency,
      sent: this.sent,
      failed: this.failed,
      requestLatency: this.requestLatency,
      otherFrames: this.otherFrames,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      wallSeconds: (performance.now() - this.wallStart) / 1000,
      closed: this.closed,
      firstError: this.firstError,
      lastDeliveredAt: this.lastDeliveredAt,
      lastCompletedAt: this.lastCompletedAt,
    };
  }
}
