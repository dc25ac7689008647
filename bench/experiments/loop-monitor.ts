/**
 * Preloaded (`bun --preload`) into a server by loop-block.ts; never part of the server itself. A
 * 1 ms timer notes the longest gap between its ticks, which is the longest time the socket loop
 * was held by anything. SIGUSR2 prints `LOOP_MAX <ms>` and starts a new measurement.
 */
let last = performance.now();
let longest = 0;
setInterval(() => {
  const now = performance.now();
  longest = Math.max(longest, now - last);
  last = now;
}, 1);
process.on("SIGUSR2", () => {
  process.stdout.write(`LOOP_MAX ${longest.toFixed(1)}\n`);
  longest = 0;
  last = performance.now();
});
