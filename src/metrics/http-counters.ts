/** HTTP requests answered, by route and status, since start. */
export class HttpCounters {
  private readonly counts = new Map<string, Map<number, number>>();

  record(route: string, status: number): void {
    let byStatus = this.counts.get(route);
    if (!byStatus) this.counts.set(route, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  *entries(): IterableIterator<{ route: string; status: number; count: number }> {
    for (const [route, byStatus] of this.counts) {
      for (const [status, count] of byStatus) yield { route, status, count };
    }
  }
}
