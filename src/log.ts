/**
 * Console logging. `debug` lines (per connection and per frame) are only produced when the
 * server runs with `--debug`; callers check `logger.debugging` before building them. Warnings
 * (bad input from clients) and errors (a handler that threw) are each capped per second, so a
 * client flooding garbage, or input that trips a bug on every frame, cannot flood the log too.
 */
export interface Logger {
  readonly debugging: boolean;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(title: string, detail?: string): void;
}

/** Lines written per second and level; the rest are counted and reported with the next one written. */
const LINES_PER_SECOND = 20;

/** `quiet` drops every line: for tests that start servers in-process. `tag` names the worker. */
export function createLogger(options: { debug: boolean; quiet?: boolean; tag?: string }): Logger {
  const tag = options.tag ? ` [${options.tag}]` : "";
  const stamp = () => `${new Date().toISOString()}${tag}`;
  const write = (stream: NodeJS.WriteStream, line: string) => {
    if (!options.quiet) stream.write(`${line}\n`);
  };
  const out = (line: string) => write(process.stdout, line);

  /** One budget per level: a warning flood never hides an error, nor the other way round. */
  const throttled = (label: string, noun: string) => {
    let window = 0;
    let written = 0;
    let suppressed = 0;
    return (message: string) => {
      const now = Date.now();
      if (now - window >= 1000) {
        if (suppressed > 0) write(process.stderr, `${stamp()} ${label} (${suppressed} more ${noun} in the last second were not written)`);
        window = now;
        written = 0;
        suppressed = 0;
      }
      if (written++ < LINES_PER_SECOND) write(process.stderr, `${stamp()} ${label} ${message}`);
      else suppressed++;
    };
  };

  return {
    debugging: options.debug,
    info: (message) => out(`${stamp()} INFO  ${message}`),
    warn: throttled("WARN ", "warnings"),
    error: throttled("ERROR", "errors"),
    debug: (title, detail) => {
      if (options.debug) out(`${stamp()} DEBUG ${title}${detail === undefined ? "" : ` ${detail}`}`);
    },
  };
}
