/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight. Every task is bounded by its
 * own timeout, so the pool ends after at most ceil(count / concurrency) timeouts.
 */
export async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
