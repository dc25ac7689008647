import type { Logger } from "../../src/log.ts";

/** A logger that keeps its lines, for tests that check what an operator would read. */
export class RecordingLogger implements Logger {
  readonly debugging = false;
  readonly lines: string[] = [];

  info(message: string): void {
    this.lines.push(`INFO ${message}`);
  }

  warn(message: string): void {
    this.lines.push(`WARN ${message}`);
  }

  error(message: string): void {
    this.lines.push(`ERROR ${message}`);
  }

  debug(): void {}

  matching(level: "INFO" | "WARN" | "ERROR", text: string): string[] {
    return this.lines.filter((line) => line.startsWith(`${level} `) && line.includes(text));
  }
}
