import { PausedReader } from "../../test/helpers/paused-reader.ts";
import type { PausedOpenParams, PausedOpenResult, PausedResumeParams, PausedResumeResult } from "../lib/protocol.ts";
import { pool } from "./pool.ts";

/**
 * Clients that subscribe and then stop reading (raw TCP, see test/helpers/paused-reader.ts): the
 * slow consumers of the `slow` scenario. They only learn how the server closed them once they
 * read again, so `resume` reads everything and reports the close codes found.
 */
export async function openPaused(params: PausedOpenParams, into: PausedReader[]): Promise<PausedOpenResult> {
  const url = new URL(params.wsUrl);
  let failed = 0;
  let firstError: string | null = null;
  await pool(params.count, params.concurrency, async () => {
    try {
      const reader = await PausedReader.connect(Number(url.port), url.pathname, params.timeoutMs);
      into.push(reader);
      await reader.subscribe(params.channel);
      reader.pause();
    } catch (error) {
      failed++;
      firstError ??= (error as Error).message;
    }
  });
  return { opened: params.count - failed, failed, firstError };
}

/** Reads on every paused socket until each is closed or `waitMs` is up, then drops them all. */
export async function resumePaused(params: PausedResumeParams, readers: PausedReader[]): Promise<PausedResumeResult> {
  const ended = new Set<PausedReader>();
  for (const reader of readers) {
    void reader.ended.then(() => ended.add(reader));
    reader.resume();
  }
  const deadline = Date.now() + params.waitMs;
  while (ended.size < readers.length && Date.now() < deadline) await Bun.sleep(50);
  const outcomes: Record<string, number> = {};
  for (const reader of readers.splice(0)) {
    const outcome = !ended.has(reader) ? "still open" : reader.closeCode === null ? "closed, no close frame" : `close ${reader.closeCode}`;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    reader.close();
  }
  return { outcomes };
}
