/**
 * A log-bucketed latency histogram in microseconds: fixed size (so generators can ship it over
 * IPC and the runner can merge any number of them) with ~2% precision per bucket.
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** 1.02^1200 µs ≈ 5.6 hours: every latency a bounded run can see fits. */
export const BUCKETS = 1200;

export type Histogram = number[];

export function emptyHistogram(): Histogram {
  return new Array<number>(BUCKETS).fill(0);
}

function bucketOf(micros: number): number {
  // Clock skew between processes can make a tiny latency negative; count it as the smallest.
  if (!(micros > 1)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_GROWTH));
}

export function record(histogram: Histogram, micros: number): void {
  histogram[bucketOf(micros)]!++;
}

export function merge(into: Histogram, from: readonly number[]): Histogram {
  for (let i = 0; i < BUCKETS; i++) into[i]! += from[i] ?? 0;
  return into;
}

export function total(histogram: readonly number[]): number {
  let sum = 0;
  for (const count of histogram) sum += count;
  return sum;
}

/** The upper edge of the bucket holding the q-quantile, in milliseconds; NaN when empty. */
export function quantileMs(histogram: readonly number[], q: number): number {
  const count = total(histogram);
  if (count === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return GROWTH ** i / 1000;
  }
  return GROWTH ** (histogram.length - 1) / 1000;
}
