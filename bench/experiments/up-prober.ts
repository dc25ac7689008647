/**
 * Asks `/up` back to back, one request at a time, and prints `<end ms> <round trip ms>` for every
 * answer slower than 2 ms: a separate process, so its own loop is never the one being measured.
 *
 *   bun bench/experiments/up-prober.ts http://127.0.0.1:PORT/up
 */
async function probe(url: string): Promise<never> {
  for (;;) {
    const start = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    const took = performance.now() - start;
    if (took > 2) process.stdout.write(`${Date.now()} ${took.toFixed(1)}\n`);
    else await Bun.sleep(1);
  }
}

void probe(process.argv[2]!);
