/**
 * Runs `run` once, at the end of the current turn of the loop, however often it is asked for in
 * that turn: what a turn produced leaves as one IPC message instead of one per envelope.
 */
export function endOfTurn(run: () => void): () => void {
  let scheduled = false;
  const once = () => {
    scheduled = false;
    run();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(once);
  };
}
