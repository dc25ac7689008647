import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bannerOf, runCli, type CliProcess } from "./cli.ts";
import { RawClient } from "./raw-client.ts";
import { APP } from "./server.ts";
import { until } from "./waits.ts";

/** `reverb-uws start --workers N` as a real process tree, with a way to tell which worker serves a socket. */
export interface Box {
  readonly cli: CliProcess;
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  wsUrl(key?: string): string;
  /** The index of the worker serving `socketId` (from its `--debug` log line). */
  workerOf(socketId: string): Promise<number>;
  /** A raw client served by worker `index`: connects until the kernel hands one to it. */
  connectTo(index: number): Promise<RawClient>;
  /** Every raw client opened through `connectTo`. */
  readonly clients: RawClient[];
  stop(): Promise<void>;
}

export const BOX_METRICS_TOKEN = "box-metrics";

export async function startBox(workers: number, app: Record<string, unknown> = {}, server: Record<string, unknown> = {}): Promise<Box> {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-box-"));
  const configPath = join(dir, "reverb.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0, metrics_token: BOX_METRICS_TOKEN, ...server },
      apps: [{ ...APP, accept_client_events_from: "members", ...app }],
    }),
  );
  const cli = runCli(["start", "--config", configPath, "--workers", String(workers), "--debug"], dir);
  const { port } = await bannerOf(cli, 15_000);
  const clients: RawClient[] = [];
  const box: Box = {
    cli,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    clients,
    wsUrl: (key = APP.key) => `ws://127.0.0.1:${port}/app/${key}`,
    async workerOf(socketId) {
      const line = new RegExp(`\\[worker (\\d+)\\] DEBUG Connection Established ${socketId.replace(".", "\\.")} `);
      await until(() => line.test(cli.output.text), `the worker of ${socketId}`);
      return Number(line.exec(cli.output.text)![1]);
    },
    async connectTo(index) {
      for (let attempt = 0; attempt < 60; attempt++) {
        const client = await RawClient.connect(box.wsUrl());
        if ((await box.workerOf(client.socketId)) === index) {
          clients.push(client);
          return client;
        }
        client.close();
      }
      throw new Error(`no connection reached worker ${index} in 60 attempts`);
    },
    async stop() {
      for (const client of clients.splice(0)) client.close();
      try {
        process.kill(cli.child.pid, "SIGKILL");
      } catch {
        // Gone already.
      }
      // The workers follow their primary as soon as its IPC channel closes.
      await cli.child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return box;
}
