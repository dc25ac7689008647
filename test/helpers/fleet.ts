import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeCli } from "./node-build.ts";
import { APP, TEST_TRANSPORT } from "./server.ts";
import { until } from "./waits.ts";

/** Every test node serves /metrics with this token. */
export const FLEET_METRICS_TOKEN = "fleet-metrics";

const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");

/** One server process of a fleet, with its output kept for assertions. */
export interface FleetNode {
  readonly process: Bun.Subprocess;
  /** Holds the node's config file and runtime file. */
  readonly dir: string;
  readonly configPath: string;
  readonly port: number;
  readonly url: string;
  output(): string;
  wsUrl(key?: string): string;
}

export interface FleetOptions {
  redisUrl: string;
  /** Seconds of silence after which a node is considered dead. */
  nodeTimeout?: number;
  /** Extra app settings for the one test app. */
  app?: Record<string, unknown>;
  scaling?: Record<string, unknown>;
  /** Run the node the Node way (uWebSockets.js, worker_threads); REVERB_TEST_TRANSPORT=uws by default. */
  node?: boolean;
  /** Resolve only once the node is subscribed (default); false for a Redis that is not there yet. */
  waitForRedis?: boolean;
}

/** A node's /metrics samples by name and labels, as in `reverb_bus_connected{connection="publisher"}`. */
export async function readMetrics(node: FleetNode): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.url}/metrics?token=${FLEET_METRICS_TOKEN}`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

/** Starts a `reverb-uws start` process with scaling on; resolves once it hears Redis. */
export async function startNode(options: FleetOptions): Promise<FleetNode> {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-node-"));
  const configPath = join(dir, "reverb.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      server: {
        host: "127.0.0.1",
        port: 0,
        metrics_token: FLEET_METRICS_TOKEN,
        scaling: { enabled: true, node_timeout: options.nodeTimeout ?? 3, query_timeout: 1000, server: { url: options.redisUrl }, ...options.scaling },
      },
      apps: [{ ...APP, accept_client_events_from: "members", ...options.app }],
    }),
  );
  // REVERB_TEST_TRANSPORT=uws: the fleet's nodes run the Node way (Redis subscriber on worker_threads).
  const server = (options.node ?? TEST_TRANSPORT === "uws") ? ["node", nodeCli()] : [process.execPath, CLI];
  const child = Bun.spawn([...server, "start", "--config", configPath], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", REVERB_RUNTIME_DIR: dir },
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const decoder = new TextDecoder();
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      for await (const chunk of stream) text += decoder.decode(chunk);
    })();
  }
  void child.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const ready = options.waitForRedis === false ? /Starting server on/ : /Redis subscriber connected[\s\S]*Starting server on|Starting server on[\s\S]*Redis subscriber connected/;
  await until(() => ready.test(text), "node start", 10_000).catch((error: Error) => {
    throw new Error(`${error.message}:\n${text}`);
  });
  const port = Number(/Starting server on [^:]+:(\d+)/.exec(text)![1]);
  return {
    process: child,
    dir,
    configPath,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => text,
    wsUrl: (key = APP.key) => `ws://127.0.0.1:${port}/app/${key}`,
  };
}

export async function startFleet(count: number, options: FleetOptions): Promise<FleetNode[]> {
  const nodes: FleetNode[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(options));
  // Every node has heard every other once they all have joined.
  await until(() => nodes.every((node) => (node.output().match(/joined the fleet/g) ?? []).length >= count - 1), "fleet formed", 10_000);
  return nodes;
}

export async function stopFleet(nodes: FleetNode[]): Promise<void> {
  for (const node of nodes) node.process.kill("SIGKILL");
  await Promise.all(nodes.map((node) => node.process.exited));
}
