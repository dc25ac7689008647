/** First in, first out, holding at most `capacity` items: a push onto a full queue evicts the oldest. */
export class BoundedQueue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Returns the item evicted to make room, if any. */
  push(item: T): T | undefined {
    this.items.push(item);
    return this.length > this.capacity ? this.shift() : undefined;
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact now and then instead of moving every item on each shift.
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes the items `drop` says so, keeping the order of the rest; returns how many went. */
  removeWhere(drop: (item: T) => boolean): number {
    const kept = this.items.slice(this.head).filter((item) => !drop(item as T));
    const removed = this.length - kept.length;
    this.items = kept;
    this.head = 0;
    return removed;
  }
}
