import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Children } from "./children.ts";
import { withTimeout } from "./clock.ts";
import type { Credentials } from "./protocol.ts";
import { treePids } from "./procfs.ts";
import type { PubsubClient } from "./redis.ts";

/** One server: `ours` is `start` (one process, `--workers 1`); `ours-wN` is `start --workers N`. */
export type WorkersKind = "ours-w2" | "ours-w3" | "ours-w4";
/** `ours-node`: ours started the Node way (`npm run start:node`: uWebSockets.js, dist/node/cli.js). */
export type NodeKind = "ours" | "ceiling" | "ours-webhooks" | "ours-node" | WorkersKind;
/** Two of our servers with scaling over a Redis of their own (lib/fleet.ts), by subscriber mode. */
export type FleetKind = "ours-worker" | "ours-inline";
export type TargetKind = NodeKind | FleetKind;

export const WORKERS_KINDS: readonly WorkersKind[] = ["ours-w2", "ours-w3", "ours-w4"];
/** Other ways to run ours: each runs in every scenario that runs `ours`, when asked for by --target. */
export const VARIANT_KINDS: readonly NodeKind[] = [...WORKERS_KINDS, "ours-node"];

/** Processes that serve connections: N for `ours-wN`, 1 otherwise (each holds ~19.9k sockets). */
export function serverProcesses(kind: string): number {
  const match = /^ours-w(\d+)$/.exec(kind);
  return match ? Number(match[1]) : 1;
}

export function isFleetKind(kind: TargetKind): kind is FleetKind {
  return kind === "ours-worker" || kind === "ours-inline";
}

export const CREDENTIALS: Credentials = { appId: "1", key: "k", secret: "s" };
/** Our servers' `/metrics` token, for scenarios that read the server's own counts. */
export const METRICS_TOKEN = "bench";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CEILING = fileURLToPath(new URL("../ceiling.ts", import.meta.url));
const BUILD_NODE = fileURLToPath(new URL("../../scripts/build-node.ts", import.meta.url));
const NODE_CLI = fileURLToPath(new URL("../../dist/node/cli.js", import.meta.url));
const STALL = fileURLToPath(new URL("./stall.ts", import.meta.url));
const WEBHOOK_RECEIVER = fileURLToPath(new URL("./webhook-receiver.ts", import.meta.url));
const BANNER = /Starting server on [^\s:]+:(\d+)/;
const START_TIMEOUT_MS = 15_000;
const TAIL_LINES = 20;

/** A server under load: where to reach it and which pid to read /proc of. */
export interface Target {
  /** "ours", "ceiling", a fleet kind, or an experiment's variant name. */
  kind: string;
  /** The server the subscribers are on (node B of a fleet). */
  pid: number;
  wsUrl: string;
  /** Where triggers go: the same server, or node A of a fleet. */
  apiBase: string;
  /** Set for a fleet only. */
  fleet?: FleetInfo;
  /** Set when started with a stall (lib/stall.ts): switches the main-thread load on or off. */
  toggleStall?: () => void;
  /** The server's last output lines, for error reports. */
  tail(): string;
  /** Processes serving connections (the workers of `ours-wN`), 1 for the others. */
  processes?: number;
  /** Listening on 0.0.0.0: clients may connect to any 127.0.0.x (a fresh ephemeral port range each). */
  anyLoopback?: boolean;
  stop(): Promise<void>;
}

/** What the cross-node scenario reads beyond node B: node A, Redis, and B's subscriber connection. */
export interface FleetInfo {
  /** Node A, which takes the triggers and publishes them to Redis. */
  publisherPid: number;
  redisPid: number;
  /** Redis' client id of node B's subscriber connection; it changes if B reconnects. */
  subscriberId: string;
  pubsubClients(): Promise<PubsubClient[]>;
  /** How often node B has logged "Redis subscriber disconnected" so far. */
  subscriberDisconnects(): number;
}

/** Keeping the main thread busy on demand (lib/stall.ts): `percent` of its time, for `forMs` at most. */
export interface StallSettings {
  percent: number;
  forMs: number;
}

/** How the runner starts servers, the same for every target of a run. */
export interface ServerOptions {
  /** Directory for CPU profiles (bun --cpu-prof-md); null: no profiling. */
  profileDir: string | null;
  /** Preload the stall into the server the subscribers are on; null: plain server. */
  stall: StallSettings | null;
  /**
   * Our servers listen on 0.0.0.0 instead of 127.0.0.1, so that generators can reach them through
   * 127.0.0.2, 127.0.0.3, … (idle past ~28k connections). Clients still use loopback addresses only.
   */
  listenAll?: boolean;
}

/**
 * Our config with the bench app; `scaling` is `server.scaling` as in src/config/schema.ts, and
 * `webhooks` the app's receivers.
 */
export function configFile(
  scaling?: Record<string, unknown>,
  {
    workers = 1,
    host = "127.0.0.1",
    webhooks = [],
  }: { workers?: number; host?: string; webhooks?: Array<Record<string, unknown>> } = {},
): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-bench-"));
  const path = join(dir, "config.json");
  writeFileSync(
    path,
    JSON.stringify({
      server: { host, port: 0, metrics_token: METRICS_TOKEN, ...(workers > 1 ? { workers } : {}), ...(scaling ? { scaling } : {}) },
      apps: [
        {
          app_id: CREDENTIALS.appId,
          key: CREDENTIALS.key,
          secret: CREDENTIALS.secret,
          accept_client_events_from: "members",
          max_message_size: 100_000,
          webhooks,
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
export async function startTarget(kind: NodeKind, children: Children, server: ServerOptions): Promise<Target> {
  if (kind === "ceiling") return startBun(kind, [CEILING, "--port", "0", "--secret", CREDENTIALS.secret], children, server, () => {});
  if (kind === "ours-webhooks") return startWithWebhooks(kind, children, server);
  if (kind === "ours-node") return startOnNode(kind, configFile(undefined, { host: server.listenAll ? "0.0.0.0" : "127.0.0.1" }), children, server);
  const workers = serverProcesses(kind);
  const host = server.listenAll ? "0.0.0.0" : "127.0.0.1";
  const target = await startOurs(kind, configFile(undefined, { workers, host }), children, server);
  return { ...target, processes: workers, anyLoopback: server.listenAll === true };
}

/** Ours with a client_event webhook to a receiver process on loopback, stopped with the server. */
async function startWithWebhooks(kind: NodeKind, children: Children, server: ServerOptions): Promise<Target> {
  const receiver = children.track(
    Bun.spawn([process.execPath, WEBHOOK_RECEIVER], { stdout: "pipe", stderr: "inherit", env: { ...process.env, BENCH_PARENT_PID: String(process.pid) } }),
  );
  const tail: string[] = [];
  let resolvePort!: (port: number) => void;
  const port = new Promise<number>((resolve) => (resolvePort = resolve));
  void drain(receiver.stdout, tail, (line) => {
    const match = /listening on (\d+)/.exec(line);
    if (match) resolvePort(Number(match[1]));
  });
  const listening = await withTimeout(port, START_TIMEOUT_MS, "webhook receiver");
  const config = configFile(undefined, { webhooks: [{ url: `http://127.0.0.1:${listening}/webhooks`, event_types: ["client_event"] }] });
  const target = await startOurs(kind, config, children, server).catch(async (error: unknown) => {
    await children.stop(receiver);
    throw error;
  });
  return {
    ...target,
    stop: async () => {
      await target.stop();
      await children.stop(receiver);
    },
  };
}

/**
 * Runs `bun [preload] [profile] ...script` as a server. Bun writes a profile when the server
 * exits, which it does on the SIGTERM that stops it.
 */
async function startBun(
  name: string,
  script: string[],
  children: Children,
  { profileDir, stall }: ServerOptions,
  cleanup: () => void,
  onLine?: (line: string) => void,
): Promise<Target> {
  const preload = stall ? ["--preload", STALL] : [];
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}`] : [];
  const env: Record<string, string> = stall ? { BENCH_STALL_PERCENT: String(stall.percent), BENCH_STALL_FOR_MS: String(stall.forMs) } : {};
  const target = await startServerProcess(name, [process.execPath, ...preload, ...profile, ...script], children, cleanup, env, onLine);
  // Without the preload, SIGUSR2's default action would kill the server.
  return stall ? { ...target, toggleStall: () => process.kill(target.pid, "SIGUSR2") } : target;
}

/** Our server on `config`, which it removes when stopped; `onLine` sees every line it prints. */
export function startOurs(
  name: string,
  config: { path: string; remove: () => void },
  children: Children,
  server: ServerOptions,
  onLine?: (line: string) => void,
): Promise<Target> {
  return startBun(name, ["src/cli.ts", "start", "--config", config.path], children, server, config.remove, onLine);
}

let nodeBuilt = false;

/** Ours under Node on `config`, built from the sources once per bench run. */
async function startOnNode(kind: NodeKind, config: { path: string; remove: () => void }, children: Children, server: ServerOptions): Promise<Target> {
  if (!nodeBuilt) {
    const build = Bun.spawnSync([process.execPath, BUILD_NODE], { stdout: "inherit", stderr: "inherit" });
    if (build.exitCode !== 0) throw new Error("npm run build:node failed");
    nodeBuilt = true;
  }
  const profile = server.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${server.profileDir}`, `--cpu-prof-name=${kind}-${Date.now()}.cpuprofile`] : [];
  const target = await startServerProcess(kind, ["node", ...profile, NODE_CLI, "start", "--config", config.path], children, config.remove);
  return { ...target, anyLoopback: server.listenAll === true };
}

/** SIGKILLs those of `pids` (a stopped server's descendants) that are still bun processes after a grace. */
async function stopDescendants(pids: number[]): Promise<void> {
  const alive = () => pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("bun");
    } catch {
      return false;
    }
  });
  for (let waited = 0; alive().length > 0 && waited < 5_000; waited += 100) await Bun.sleep(100);
  for (const pid of alive()) process.kill(pid, "SIGKILL");
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
  /** Sees every line of stdout and stderr (our warnings go to stderr). */
  watch: (line: string) => void = () => undefined,
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
    watch(line);
  };
  void drain(child.stdout, tail, onLine);
  void drain(child.stderr, tail, watch);
  const stop = async () => {
    // A primary's workers drain on its SIGTERM (or go when it is gone); any still running after the
    // grace period are ended by pid, so no worker of this run serves into the next one.
    const descendants = treePids(child.pid).slice(1);
    await children.stop(child);
    await stopDescendants(descendants);
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
