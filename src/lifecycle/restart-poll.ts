import type { Logger } from "../log.ts";
import type { RestartKeyReader } from "../laravel/restart-key.ts";

export interface RestartPollOptions {
  reader: Pick<RestartKeyReader, "read" | "store" | "where">;
  log: Logger;
  /** Reverb polls every 5 s. */
  intervalMs: number;
  /** Unix seconds at which this server started. */
  startedAt: number;
  onRestart: (why: string) => void;
}

/**
 * Reverb's rule for `php artisan reverb:restart`: remember the key's value when the server starts
 * and restart once it differs. If the cache cannot be read at start, the first value read later
 * counts only when it is a timestamp after this server's start. A read still running when the
 * next tick comes skips that tick; an unreachable cache is logged once per outage.
 */
export function startRestartPoll(options: RestartPollOptions): { stop(): void } {
  const { reader, log } = options;
  let baseline: { value: unknown } | null = null;
  let missedStart = false;
  let reading = false;
  let outage = false;
  let stopped = false;

  const tick = async () => {
    if (reading || stopped) return;
    reading = true;
    try {
      const value = await reader.read();
      if (outage) log.info(`Laravel ${reader.store} cache reachable again`);
      outage = false;
      if (baseline === null) {
        baseline = { value };
        log.info(`Watching ${reader.where} every ${options.intervalMs / 1000} s for php artisan reverb:restart (last: ${value ?? "never"})`);
        if (missedStart && typeof value === "number" && value > options.startedAt) trigger();
      } else if (value !== baseline.value) {
        trigger();
      }
    } catch (error) {
      if (baseline === null) missedStart = true;
      if (!outage) log.warn(`Cannot read reverb:restart from ${reader.where}: ${(error as Error).message}; retrying every ${options.intervalMs / 1000} s`);
      outage = true;
    } finally {
      reading = false;
    }
  };
  const trigger = () => {
    stop();
    options.onRestart("php artisan reverb:restart");
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref?.();
  void tick();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop };
}
