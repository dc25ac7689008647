/**
 * Preloaded (`bun --preload`) into the server whose main thread the crossnode burst keeps busy;
 * never part of the server itself. SIGUSR2 switches on a load that takes BENCH_STALL_PERCENT of
 * the main thread's time, as other CPU-bound work on the socket loop would (many busy clients, a
 * large presence roster, a slow handler); the next SIGUSR2 switches it off, and it switches
 * itself off after BENCH_STALL_FOR_MS whatever happens. Worker threads are left alone: whether
 * the Redis subscriber still drains Redis while the main thread is busy is what the burst measures.
 *
 * The load is proportional, not periodic. A fixed "block 95 of every 100 ms" only adds latency:
 * the turn between two blocks handles the whole backlog however long it takes, so throughput
 * never drops. Here every turn of the loop is followed by a block S/(100-S) times as long as the
 * work that turn did, so the server's own work gets (100-S)% of the thread whatever its batching.
 */
import { isMainThread } from "node:worker_threads";

/** One block never exceeds this, so timers (heartbeats, sweeps) still run a few times a second. */
const MAX_BLOCK_MS = 200;

if (isMainThread) {
  const percent = Math.min(Math.max(Number(process.env.BENCH_STALL_PERCENT ?? 0), 0), 99);
  const ratio = percent / (100 - percent);
  const boundMs = Number(process.env.BENCH_STALL_FOR_MS ?? 60_000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let bound: ReturnType<typeof setTimeout> | undefined;
  let lastBlockEnd = 0;

  const block = () => {
    const start = performance.now();
    // What the loop did since the last block: I/O, the server's callbacks, the timer's own delay.
    const end = start + Math.min((start - lastBlockEnd) * ratio, MAX_BLOCK_MS);
    while (performance.now() < end) {
      // Busy on purpose: this is the load.
    }
    lastBlockEnd = performance.now();
    timer = setTimeout(block, 0);
  };
  const off = () => {
    clearTimeout(timer);
    clearTimeout(bound);
    timer = undefined;
    process.stdout.write("bench stall: off\n");
  };
  process.on("SIGUSR2", () => {
    if (timer) return off();
    lastBlockEnd = performance.now();
    timer = setTimeout(block, 0);
    bound = setTimeout(off, boundMs);
    process.stdout.write(`bench stall: on, ${percent}% of the main thread\n`);
  });
}
