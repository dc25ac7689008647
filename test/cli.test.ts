import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bannerOf, runCli, runCliToEnd } from "./helpers/cli.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { until } from "./helpers/waits.ts";

const running: Bun.Subprocess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-cli-"));
  dirs.push(dir);
  return dir;
}

/** Starts `reverb-uws start` and resolves once the banner printed; output keeps accumulating. */
async function startCli(args: string[], env: Record<string, string>) {
  const cwd = emptyDir();
  const run = runCli(["start", ...args], cwd, env);
  running.push(run.child);
  const { port } = await bannerOf(run);
  return { child: run.child, port, output: run.output, cwd };
}

describe("reverb-uws start", () => {
  test("invalid configuration prints one line per problem and exits 1", async () => {
    const { status, text } = await runCliToEnd(["start"], emptyDir(), {
      REVERB_APP_ID: "1",
      REVERB_APP_KEY: "k",
      REVERB_SERVER_PORT: "nope",
      REVERB_APP_MAX_MESSAGE_SIZE: "-1",
    });
    expect(status).toBe(1);
    const lines = text.trim().split("\n");
    expect(lines).toEqual([
      'Invalid configuration: REVERB_SERVER_PORT: must be a whole number (got "nope")',
      "Invalid configuration: REVERB_APP_SECRET: is required",
      "Invalid configuration: REVERB_APP_MAX_MESSAGE_SIZE: must be at least 0 (got -1)",
    ]);
  });

  test("with no credentials it makes a dev app, prints it and serves it", async () => {
    const { port, output } = await startCli(["--host", "127.0.0.1", "--port", "0"], {});
    const key = /key ([a-z0-9]{20})/.exec(output.text)?.[1];
    expect(key).toBeDefined();
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/${key}`);
    expect(client.frames[0]!.event).toBe("pusher:connection_established");
    client.close();
    expect(await (await fetch(`http://127.0.0.1:${port}/up`)).json()).toEqual({ health: "OK" });
  });

  test("the banner names host, port, path and hostname", async () => {
    const { port, output } = await startCli(["--host", "127.0.0.1", "--port", "0", "--path", "ws", "--hostname", "ws.example.com"], {
      REVERB_APP_ID: "1",
      REVERB_APP_KEY: "key",
      REVERB_APP_SECRET: "secret",
    });
    expect(output.text).toContain(`Starting server on 127.0.0.1:${port}/ws (ws.example.com)`);
    expect((await fetch(`http://127.0.0.1:${port}/ws/up`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/up`)).status).toBe(404);
  });

  test("--debug logs connections and every frame in and out; without it nothing per message", async () => {
    const env = { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret" };
    for (const debug of [true, false]) {
      const { port, output } = await startCli(["--host", "127.0.0.1", "--port", "0", ...(debug ? ["--debug"] : [])], env);
      const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/key`);
      await client.subscribe("debug-channel");
      const socketId = client.socketId;
      client.close();
      await client.closed;
      await Bun.sleep(200);
      const lines = output.text.split("\n").filter((line) => line.includes(socketId));
      if (debug) {
        expect(output.text).toContain(`Connection Established ${socketId} app 1`);
        expect(lines.some((line) => line.includes("Message Received") && line.includes("debug-channel"))).toBe(true);
        expect(lines.some((line) => line.includes("Message Sent") && line.includes("subscription_succeeded"))).toBe(true);
        expect(output.text).toContain(`Connection Closed ${socketId} app 1`);
      } else {
        expect(lines).toEqual([]);
      }
    }
  });

  test("the banner is followed by the effective limits and the open-files room", async () => {
    const { output } = await startCli(["--host", "127.0.0.1", "--port", "0"], { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret", REVERB_APP_MAX_CONNECTIONS: "50000" });
    // The lines after the banner may reach the pipe in a later chunk.
    await until(() => output.text.includes("Open files limit"), "the open-files line");
    expect(output.text).toContain("App 1 limits: max_connections 50000, max_message_size 10000 bytes, ping_interval 60 s");
    expect(output.text).toContain("max_channels_per_connection 1000, max_presence_members unlimited, max_presence_member_size unlimited, max_channel_name_length 200, ");
    expect(output.text).toContain("max_event_name_length 200, max_buffered_bytes 1048576, user_authentication_timeout off, subscription_count off");
    expect(output.text).toMatch(/Open files limit \(ulimit -n\) \d+: room for about \d+ connections/);
  });

  test("reverb-uws restart drains the local server: clients get 4200, it exits 0", async () => {
    const env = { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret" };
    const { child, port, cwd } = await startCli(["--host", "127.0.0.1", "--port", "0"], env);
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/key`);
    const restart = await runCliToEnd(["restart"], cwd, env);
    expect(restart.status).toBe(0);
    expect(restart.text).toContain(`Signalled the server on 127.0.0.1:${port} (pid ${child.pid})`);
    expect((await client.closed).code).toBe(4200);
    expect(await child.exited).toBe(0);
  });

  test("SIGTERM closes clients with 4200 and exits 0", async () => {
    const { child, port } = await startCli(["--host", "127.0.0.1", "--port", "0"], { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret" });
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/key`);
    child.kill("SIGTERM");
    expect((await client.closed).code).toBe(4200);
    expect(await child.exited).toBe(0);
  });
});
