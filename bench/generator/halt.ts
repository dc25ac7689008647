/**
 * Lets the runner end this generator's running loads early (the cross-node burst stops its
 * background load once the burst is delivered). A load takes a token when it starts and stops at
 * its next step after any later `halt`, so a halt never reaches a load started after it.
 */
export class Halt {
  private epoch = 0;

  halt(): void {
    this.epoch++;
  }

  /** True once `halt` has been called after this token was taken. */
  token(): () => boolean {
    const epoch = this.epoch;
    return () => this.epoch !== epoch;
  }
}
