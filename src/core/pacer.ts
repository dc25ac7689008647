/** Longest stretch one long walk holds the socket loop before letting it serve others. */
export const SLICE_MS = 10;

/** The clock is read once per this many steps: reading it costs more than a cheap step. */
const STEPS_PER_CHECK = 128;

/**
 * Cuts a long walk (every channel of an app, every member of a roster) into slices of about
 * `budgetMs`, so a query over 200k channels delays `/up` and other sockets by one slice, not by
 * the whole walk. Between slices it yields with `setImmediate`, which lets uWS poll its sockets.
 */
export class Pacer {
  private sliceStart = performance.now();
  private steps = 0;

  constructor(private readonly budgetMs = SLICE_MS) {}

  /** Counts one step; true when the slice is spent and `pause()` is due. */
  due(): boolean {
    if (++this.steps % STEPS_PER_CHECK !== 0) return false;
    return performance.now() - this.sliceStart >= this.budgetMs;
  }

  /** Lets the loop run, then starts a new slice. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }
}
