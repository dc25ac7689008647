/**
 * Wall-clock milliseconds with sub-millisecond resolution that agree across processes on one box.
 * Bun's `process.hrtime` counts from each process's start, so it cannot be compared between the
 * publisher and the receivers; `timeOrigin + now()` can (measured skew < 0.1 ms).
 */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with a message naming what was awaited, so no await can hang a run. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
