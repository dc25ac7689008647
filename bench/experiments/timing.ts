/** Per-call cost of `fn`, after a warm-up so the JIT has settled; bounded by `ms`. */
export interface Cost {
  /** Wall time of the calling thread. */
  wallNs: number;
  /** CPU of the whole process (all threads: GC helpers included), as /proc counts a server. */
  cpuNs: number;
}

export async function costPerCall(fn: () => unknown | Promise<unknown>, ms = 400): Promise<Cost> {
  const warmEnd = performance.now() + ms / 4;
  while (performance.now() < warmEnd) await fn();
  let calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await fn();
    calls += 100;
  }
  const wallNs = ((performance.now() - start) * 1e6) / calls;
  const used = process.cpuUsage(cpu);
  return { wallNs, cpuNs: ((used.user + used.system) * 1000) / calls };
}

export async function nsPerCall(fn: () => unknown | Promise<unknown>, ms = 400): Promise<number> {
  return (await costPerCall(fn, ms)).wallNs;
}

export function row(label: string, cost: number | Cost): string {
  if (typeof cost === "number") return `| ${label} | ${(cost / 1000).toFixed(2)} |`;
  return `| ${label} | ${(cost.wallNs / 1000).toFixed(2)} | ${(cost.cpuNs / 1000).toFixed(2)} |`;
}
