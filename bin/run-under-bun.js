import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * The Bun binary the `bun` package installed: its postinstall puts it in `bin/bun.exe`; without
 * install scripts it is still in the platform package that `bun` depends on.
 */
function bunBinary() {
  const require = createRequire(import.meta.url);
  let bunDir;
  try {
    bunDir = dirname(require.resolve("bun/package.json"));
  } catch {
    throw new Error("the bun package is not installed next to reverb-uws (npm install reverb-uws brings it)");
  }
  const fromBun = createRequire(join(bunDir, "package.json"));
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  const platforms = [`@oven/bun-${process.platform}-${arch}`, `@oven/bun-${process.platform}-${arch}-musl`];
  const candidates = [join(bunDir, "bin", "bun.exe")];
  for (const name of platforms) {
    try {
      candidates.push(join(dirname(fromBun.resolve(`${name}/package.json`)), "bin", "bun"));
    } catch {
      // Not this platform's package.
    }
  }
  // Before its postinstall, bun.exe is a small placeholder script, not the runtime.
  const binary = candidates.find((path) => existsSync(path) && statSync(path).size > 1_000_000);
  if (!binary) throw new Error(`no Bun binary found (looked at ${candidates.join(", ")}); reinstall with npm install`);
  return binary;
}

/** Runs `entry` under Bun with `args`, relays signals, and exits as the child did. */
export function runUnderBun(entry, args) {
  let binary;
  try {
    binary = bunBinary();
  } catch (error) {
    process.stderr.write(`reverb-uws: ${error.message}\n`);
    process.exit(1);
  }
  const child = spawn(binary, [fileURLToPath(entry), ...args], { stdio: "inherit" });
  const relay = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, relay);
  child.on("error", (error) => {
    process.stderr.write(`reverb-uws: cannot start ${binary}: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const name of FORWARDED_SIGNALS) process.off(name, relay);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
