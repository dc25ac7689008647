/**
 * HTTP API ablation: the http scenario against the ceiling and against each server variant of
 * ablation-server.ts, one at a time, reporting triggers/s and server CPU per trigger.
 *
 *   npx bun bench/experiments/ablation.ts [--duration 4] [--http-clients 4] [--repeat 1] [--only a,b]
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Children } from "../lib/children.ts";
import { parseFlags } from "../lib/flags.ts";
import { GeneratorHandle } from "../lib/generator-handle.ts";
import { startServerProcess } from "../lib/targets.ts";
import { http } from "../scenarios/http.ts";

const SERVER = fileURLToPath(new URL("./ablation-server.ts", import.meta.url));
const CEILING = fileURLToPath(new URL("../ceiling.ts", import.meta.url));

const { values } = parseArgs({
  strict: false,
  options: {
    duration: { type: "string", default: "4" },
    "http-clients": { type: "string", default: "4" },
    repeat: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const text = (value: string | boolean | undefined) => (typeof value === "string" ? value : "");
const parsed = parseFlags(["--duration", text(values.duration), "--http-clients", text(values["http-clients"])]);
if (parsed === "help") process.exit(0);
const options = parsed;

const allVariants: Array<[string, string[]]> = [
  ["ceiling", [process.execPath, CEILING, "--port", "0"]],
  ["transport-stub", [process.execPath, SERVER, "--variant", "transport-stub"]],
  ["api-bare", [process.execPath, SERVER, "--variant", "api-bare"]],
  ["bare-buffer", [process.execPath, SERVER, "--variant", "bare-buffer"]],
  ["bare-sig", [process.execPath, SERVER, "--variant", "bare-sig"]],
  ["bare-sig-lean", [process.execPath, SERVER, "--variant", "bare-sig-lean"]],
  ["ours", [process.execPath, SERVER, "--variant", "ours"]],
];
const only = text(values.only) === "" ? null : text(values.only).split(",");
const variants = only ? allVariants.filter(([name]) => only.includes(name)) : allVariants;

const children = new Children();
console.log("| variant | triggers/s | server CPU µs per trigger | p99 ms |\n|---|--:|--:|--:|");
try {
  for (let round = 0; round < Number(values.repeat); round++) {
    for (const [name, cmd] of variants) {
      const target = await startServerProcess(name, cmd, children);
      const generators: GeneratorHandle[] = [];
      try {
        const result = await http.run({
          target,
          options,
          generator: (label) => {
            const handle = new GeneratorHandle(label, children);
            generators.push(handle);
            return handle;
          },
        });
        const get = (key: string) => result.metrics.find((m) => m.key === key)!.value;
        console.log(`| ${name} | ${get("triggersPerSec").toFixed(0)} | ${get("cpuPerMillion").toFixed(1)} | ${get("httpP99Ms").toFixed(2)} |`);
      } finally {
        await target.stop();
        await Promise.all(generators.map((generator) => children.stop(generator.process)));
      }
    }
  }
} finally {
  await children.stopAll();
}
