/**
 * Console logging. `debug` lines (per connection and per frame) are only produced when the
 * server runs with `--debug`; callers check `logger.debugging` before building them.
 */
export interface Logger {
  readonly debugging: boolean;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(title: string, detail?: string): void;
}

export function createLogger(options: { debug: boolean; quiet?: boolean }): Logger {
  const stamp = () => new Date().toISOString();
  const out = (line: string) => {
    if (!options.quiet) process.stdout.write(`${line}\n`);
  };
  return {
    debugging: options.debug,
    info: (message) => out(`${stamp()} INFO  ${message}`),
    warn: (message) => process.stderr.write(`${stamp()} WARN  ${message}\n`),
    error: (message) => process.stderr.write(`${stamp()} ERROR ${message}\n`),
    debug: (title, detail) => {
      if (options.debug) out(`${stamp()} DEBUG ${title}${detail === undefined ? "" : ` ${detail}`}`);
    },
  };
}
