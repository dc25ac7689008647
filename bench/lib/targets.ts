import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Children } from "./children.ts";
import { withTimeout } from "./clock.ts";
import type { Credentials } from "./protocol.ts";

export type TargetKind = "ours" | "ceiling";

export const CREDENTIALS: Credentials = { appId: "1", key: "k", secret: "s" };

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CEILING = fileURLToPath(new URL("../ceiling.ts", import.meta.url));
const BANNER = /Starting server on [^\s:]+:(\d+)/;
const START_TIMEOUT_MS = 15_000;
const TAIL_LINES = 20;

/** A server under load: where to reach it and which pid to read /proc of. */
export interface Target {
  /** "ours", "ceiling", or an experiment's variant name. */
  kind: string;
  pid: number;
  wsUrl: string;
  apiBase: string;
  /** The server's last output lines, for error reports. */
  tail(): string;
  stop(): Promise<void>;
}

function configFile(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-bench-"));
  const path = join(dir, "config.json");
  writeFileSync(
    path,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0 },
      apps: [
        {
          app_id: CREDENTIALS.appId,
          key: CREDENTIALS.key,
          secret: CREDENTIALS.secret,
          accept_client_events_from: "members",
          max_message_size: 100_000,
        },
      ],
    }),
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Reads a stream to the end, keeping the last lines and calling `onLine` for each. The pipe must
 * be drained for the server's whole life or its logging would block it.
 */
async function drain(stream: ReadableStream<Uint8Array>, tail: string[], onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(line);
    }
  }
}

/**
 * Starts a server on an ephemeral loopback port and waits for its banner. Ours is started exactly
 * as `npx bun src/cli.ts start --config …` would, but with the bun binary itself so the pid we
 * measure is the server's and not npx's.
 */
export async function startTarget(kind: TargetKind, children: Children, profileDir: string | null): Promise<Target> {
  const config = kind === "ours" ? configFile() : null;
  // Bun writes the profile when the server exits, which it does on the SIGTERM that stops it.
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${kind}-${Date.now()}`] : [];
  const cmd =
    kind === "ours"
      ? [process.execPath, ...profile, "src/cli.ts", "start", "--config", config!.path]
      : [process.execPath, ...profile, CEILING, "--port", "0"];
  return startServerProcess(kind, cmd, children, () => config?.remove());
}

/**
 * Runs `cmd` (any server that prints the banner and serves the app in CREDENTIALS) as a target;
 * experiments use it for variants of the server.
 */
export async function startServerProcess(
  kind: string,
  cmd: string[],
  children: Children,
  cleanup = () => {},
  env: Record<string, string> = {},
): Promise<Target> {
  const child: Subprocess<"ignore", "pipe", "pipe"> = children.track(
    Bun.spawn(cmd, {
      cwd: ROOT,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...env, BENCH_PARENT_PID: String(process.pid) },
    }),
  );
  const tail: string[] = [];
  let resolvePort!: (port: number) => void;
  const port = new Promise<number>((resolve) => (resolvePort = resolve));
  const onLine = (line: string) => {
    const match = BANNER.exec(line);
    if (match) resolvePort(Number(match[1]));
  };
  void drain(child.stdout, tail, onLine);
  void drain(child.stderr, tail, () => undefined);
  const stop = async () => {
    await children.stop(child);
    cleanup();
  };

  try {
    const exited = child.exited.then((code) => Promise.reject(new Error(`${kind} server exited (${code}) before listening`)));
    const listening = await withTimeout(Promise.race([port, exited]), START_TIMEOUT_MS, `${kind} server banner`);
    return {
      kind,
      pid: child.pid,
      wsUrl: `ws://127.0.0.1:${listening}/app/${CREDENTIALS.key}`,
      apiBase: `http://127.0.0.1:${listening}`,
      tail: () => tail.join("\n"),
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${tail.join("\n")}`);
  }
}
