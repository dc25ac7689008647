/** HTTP requests answered, by route and status, since start. */
export class HttpCounters {
  private readonly counts = new Map<string, { route: string; status: number; count: number }>();

  record(route: string, status: number): void {
    const key = `${route} ${status}`;
    const entry = this.counts.get(key);
    if (entry) entry.count++;
    else this.counts.set(key, { route, status, count: 1 });
  }

  entries(): IterableIterator<{ route: string; status: number; count: number }> {
    return this.counts.values();
  }
}
