import { afterEach, expect, test } from "bun:test";
import { createLogger } from "../src/log.ts";

const realWrite = process.stderr.write.bind(process.stderr);
afterEach(() => {
  process.stderr.write = realWrite;
});

test("a flood of warnings is capped per second and the rest is counted", async () => {
  const lines: string[] = [];
  process.stderr.write = ((chunk: string) => lines.push(String(chunk).trim()) > 0) as typeof process.stderr.write;
  const log = createLogger({ debug: false });
  for (let i = 0; i < 500; i++) log.warn(`bad frame ${i}`);
  expect(lines).toHaveLength(20);
  expect(lines[19]).toEndWith("WARN  bad frame 19");
  await Bun.sleep(1010);
  log.warn("later");
  expect(lines.slice(20).map((line) => line.replace(/^\S+ /, ""))).toEqual([
    "WARN  (480 more warnings in the last second were not written)",
    "WARN  later",
  ]);
});

test("errors are capped per second like warnings, with their own budget", async () => {
  const lines: string[] = [];
  process.stderr.write = ((chunk: string) => lines.push(String(chunk).trim()) > 0) as typeof process.stderr.write;
  const log = createLogger({ debug: false });
  for (let i = 0; i < 30; i++) log.warn(`bad frame ${i}`);
  for (let i = 0; i < 300; i++) log.error(`handler failed ${i}`);
  const errors = lines.filter((line) => line.includes(" ERROR "));
  expect(errors).toHaveLength(20);
  expect(errors[19]).toEndWith("ERROR handler failed 19");
  await Bun.sleep(1010);
  log.error("later");
  expect(lines.slice(-2).map((line) => line.replace(/^\S+ /, ""))).toEqual([
    "ERROR (280 more errors in the last second were not written)",
    "ERROR later",
  ]);
});
