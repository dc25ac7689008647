import * as v from "valibot";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema, type Config } from "../../src/config/schema.ts";
import type { Hub } from "../../src/core/hub.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { bannerOf, runCli, runCommand, type CliProcess } from "./cli.ts";
import { nodeCli } from "./node-build.ts";

export const APP = { app_id: "123456", key: "reverb-key", secret: "reverb-secret" } as const;

/**
 * `REVERB_TEST_WORKERS=N` runs the suites that use `startTestServer` against `start --workers N`
 * (real processes on one port) instead of one in-process server: the same behaviours must hold.
 */
export const TEST_WORKERS = Number(process.env.REVERB_TEST_WORKERS ?? 1);

/**
 * `REVERB_TEST_TRANSPORT=uws` runs them against the server started the Node way (uWebSockets.js,
 * `dist/node/cli.js`, built once per run) instead of Bun.serve in process.
 */
export const TEST_TRANSPORT = process.env.REVERB_TEST_TRANSPORT === "uws" ? "uws" : "bun";

/** Whether `startTestServer` runs the server in this process, so `hub` can be read. */
export const IN_PROCESS = TEST_WORKERS === 1 && TEST_TRANSPORT === "bun";

export interface TestServer {
  readonly config: Config;
  readonly port: number;
  /** `http://127.0.0.1:port[/prefix]` */
  readonly url: string;
  /** The in-process core; a box of workers has none here (tests that need it skip themselves). */
  readonly hub: Hub;
  /** `ws://127.0.0.1:port[/prefix]/app/{key}` */
  wsUrl(key?: string): string;
  /** Drains as SIGTERM does: 4200 to every client, at most `timeoutMs`, then stops. */
  drain(reason: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

type ConfigInput = v.InferInput<typeof ConfigSchema>;

/**
 * A real server on an ephemeral loopback port; apps default to the one Reverb's tests use. Its log
 * is dropped unless a test passes a logger to read it.
 */
export async function startTestServer(input: Partial<ConfigInput> = {}, log?: Logger): Promise<TestServer> {
  const { raw, config } = testConfig(input);
  // A test that reads the log runs in process: its subject is the log line, not the fleet.
  if (TEST_WORKERS > 1 && !log) return startProcessServer(raw, config, (path, dir) => runCli(["start", "--config", path, "--workers", String(TEST_WORKERS)], dir));
  if (TEST_TRANSPORT === "uws" && !log) return startNodeServer(input);
  const running = startServer(config, log ?? createLogger({ debug: false, quiet: true }));
  return {
    config,
    port: running.port,
    url: running.url,
    hub: running.hub,
    wsUrl: wsUrl(config, running.port),
    drain: (reason, timeoutMs) => running.drain(reason, timeoutMs),
    stop: () => running.stop(),
  };
}

/** The same server started the Node way (`npm run start:node`: uWebSockets.js), as a process. */
export function startNodeServer(input: Partial<ConfigInput> = {}): Promise<TestServer> {
  const { raw, config } = testConfig(input);
  return startProcessServer(raw, config, (path, dir) => runCommand(["node", nodeCli(), "start", "--config", path], dir));
}

function testConfig(input: Partial<ConfigInput>): { raw: object; config: Config } {
  const raw = {
    apps: input.apps ?? [{ ...APP, accept_client_events_from: "members" }],
    server: { host: "127.0.0.1", port: 0, ...input.server },
  };
  return { raw, config: v.parse(ConfigSchema, raw) };
}

function wsUrl(config: Config, port: number): (key?: string) => string {
  return (key = config.apps[0]!.key) => `ws://127.0.0.1:${port}${config.server.path}/app/${key}`;
}

/** The server as a process of its own: a box of workers, or the Node transport. */
async function startProcessServer(raw: object, config: Config, start: (configPath: string, dir: string) => CliProcess): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-test-process-"));
  const configPath = join(dir, "reverb.json");
  writeFileSync(configPath, JSON.stringify(raw));
  const cli = start(configPath, dir);
  const { port, secure } = await bannerOf(cli, 15_000);
  const server: TestServer = {
    config,
    port,
    url: `${secure ? "https" : "http"}://127.0.0.1:${port}${config.server.path}`,
    get hub(): Hub {
      throw new Error("no in-process hub with REVERB_TEST_WORKERS or REVERB_TEST_TRANSPORT");
    },
    wsUrl: wsUrl(config, port),
    // The process drains within its own shutdown_timeout.
    drain: () => server.stop(),
    async stop() {
      cli.child.kill("SIGTERM");
      await cli.child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
