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

/** `quiet` drops every line: for tests that start servers in-process. */
export function createLogger(options: { debug: boolean; quiet?: boolean }): Logger {
  const stamp = () => new Date().toISOString();
  const write = (stream: NodeJS.WriteStream, line: string) => {
    if (!options.quiet) stream.write(`${line}\n`);
  };
  const out = (line: string) => write(process.stdout, line);
  return {
    debugging: options.debug,
    info: (message) => out(`${stamp()} INFO  ${message}`),
    warn: (message) => write(process.stderr, `${stamp()} WARN  ${message}`),
    error: (message) => write(process.stderr, `${stamp()} ERROR ${message}`),
    debug: (title, detail) => {
      if (options.debug) out(`${stamp()} DEBUG ${title}${detail === undefined ? "" : ` ${detail}`}`);
    },
  };
}
