import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What a running server leaves behind so `reverb-uws restart` can find it. */
export interface RuntimeEntry {
  pid: number;
  host: string;
  port: number;
}

/** `REVERB_RUNTIME_DIR`, or a folder in the system's temporary directory. */
export function runtimeDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.REVERB_RUNTIME_DIR || join(tmpdir(), "reverb-uws");
}

/** Records this process; the file goes away when the process exits. */
export function registerRunning(dir: string, entry: RuntimeEntry): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${entry.pid}.json`);
  writeFileSync(file, JSON.stringify(entry));
  process.once("exit", () => rmSync(file, { force: true }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Servers recorded in `dir` whose process still runs; stale files of crashed ones are removed. */
export function runningServers(dir: string): RuntimeEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith(".json"));
  } catch {
    return [];
  }
  const entries: RuntimeEntry[] = [];
  for (const name of names) {
    try {
      const entry = JSON.parse(readFileSync(join(dir, name), "utf8")) as RuntimeEntry;
      if (alive(entry.pid)) entries.push(entry);
      else rmSync(join(dir, name), { force: true });
    } catch {
      rmSync(join(dir, name), { force: true });
    }
  }
  return entries;
}
