import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bannerOf, runCli } from "./helpers/cli.ts";
import { PausedReader } from "./helpers/paused-reader.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, IN_PROCESS, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

const running: Bun.Subprocess[] = [];
const servers: TestServer[] = [];
const readers: PausedReader[] = [];
const clients: RawClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const reader of readers.splice(0)) reader.close();
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const child of running.splice(0)) child.kill("SIGKILL");
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The default cap: uWS queues up to twice this, so a socket past it still takes the close frame. */
const CAP = 1024 * 1024;
const PAUSED = 20;
const HEALTHY = 3;
/**
 * 25 KB every 10 ms: 2.5 MB/s to each subscriber. The kernel's buffers (several MB per paused
 * socket on loopback) fill first, then the server's; the 250 ms check sees a socket pass its cap
 * well before it has grown by another cap, so the close frame still fits behind its data.
 */
const DATA = "x".repeat(25_000);
const PACE_MS = 10;
const MAX_EVENTS = 1000;

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

function metricLine(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((row) => row.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`no ${name}${labels} in:\n${text}`);
  return Number(line.split(" ").at(-1));
}

async function connectPaused(port: number, key: string, channel: string, count: number): Promise<PausedReader[]> {
  const made = await Promise.all(Array.from({ length: count }, () => within(PausedReader.connect(port, `/app/${key}`), "a paused reader")));
  readers.push(...made);
  await Promise.all(made.map((reader) => reader.subscribe(channel)));
  for (const reader of made) reader.pause();
  return made;
}

async function connectHealthy(url: string, channel: string, count: number): Promise<RawClient[]> {
  const made = await Promise.all(Array.from({ length: count }, () => RawClient.connect(url)));
  clients.push(...made);
  for (const client of made) await client.subscribe(channel);
  return made;
}

describe("slow consumers", () => {
  test(`${PAUSED} clients that stop reading are closed with 4100 past max_buffered_bytes; memory stays bounded; healthy clients lose nothing`, async () => {
    const cwd = mkdtempSync(join(tmpdir(), "reverb-uws-slow-"));
    dirs.push(cwd);
    const app = { app_id: "1", key: "key", secret: "secret" };
    const run = runCli(["start", "--host", "127.0.0.1", "--port", "0"], cwd, {
      REVERB_APP_ID: app.app_id,
      REVERB_APP_KEY: app.key,
      REVERB_APP_SECRET: app.secret,
      REVERB_APP_MAX_BUFFERED_BYTES: String(CAP),
      REVERB_MAX_REQUEST_SIZE: "60000",
      REVERB_METRICS_TOKEN: "t",
    });
    running.push(run.child);
    const { port } = await bannerOf(run);
    const base = `http://127.0.0.1:${port}`;

    const paused = await connectPaused(port, "key", "news", PAUSED);
    const healthy = await connectHealthy(`ws://127.0.0.1:${port}/app/key`, "news", HEALTHY);
    const rssBefore = rssKb(run.child.pid);

    const metrics = async () => (await fetch(`${base}/metrics?token=t`)).text();
    const closedSlow = async () => metricLine(await metrics(), "reverb_slow_consumers_closed_total", '{app="1",limit="socket"}');
    let peakKb = rssBefore;
    let sent = 0;
    while (sent < MAX_EVENTS && (sent % 50 !== 0 || (await closedSlow()) < PAUSED)) {
      const response = await signedFetch(base, "POST", "/apps/1/events", { name: "tick", channel: "news", data: `${sent}:${DATA}` }, app);
      expect(response.status).toBe(200);
      sent++;
      peakKb = Math.max(peakKb, rssKb(run.child.pid));
      await Bun.sleep(PACE_MS);
    }
    expect(await closedSlow()).toBe(PAUSED);
    for (const client of healthy) await client.waitFor(() => client.count("tick") === sent, `all ${sent} events`, 5000);
    const text = await metrics();
    expect(metricLine(text, "reverb_connections", '{app="1"}')).toBe(HEALTHY);
    expect(metricLine(text, "reverb_slow_consumers_closed_total", '{app="1",limit="server"}')).toBe(0);
    // Each paused reader holds its cap plus what arrives in the half second before it is closed;
    // left to uWS, each would reach 16 MB.
    expect(peakKb - rssBefore).toBeLessThan(100_000);

    // Behind all it did not read, a paused reader that resumes finds the close frame.
    const late = paused[0]!;
    late.resume();
    await within(late.ended, "the closed socket's end", 6000);
    expect(late.closeCode).toBe(4100);
    expect(run.output.text).toMatch(/Slow consumer \d+\.\d+ \(app 1\) closed with 4100: \d+ bytes waiting, over the app's max_buffered_bytes \(1048576\) and not catching up/);
    for (const client of healthy) expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  // These two publish through the in-process hub: one process's buffers are their subject.
  test.skipIf(!IN_PROCESS)("past max_buffered_bytes_total the largest buffers are closed first, until the total fits", async () => {
    const server = await startTestServer({
      apps: [{ ...APP, max_buffered_bytes: 16 * 1024 * 1024 }],
      server: { max_buffered_bytes_total: 1024 * 1024, metrics_token: "t" },
    });
    servers.push(server);
    const app = server.hub.apps.findById(APP.app_id)!;
    const frame = JSON.stringify({ event: "tick", channel: "news", data: DATA });
    const publish = async (count: number) => {
      for (let i = 0; i < count; i++) {
        server.hub.deliver(app, "news", frame, null);
        await Bun.sleep(PACE_MS / 2);
      }
    };

    const [first] = await connectPaused(server.port, APP.key, "news", 1);
    const [second] = await connectPaused(server.port, APP.key, "news", 1);
    second!.resume();
    const [healthy] = await connectHealthy(server.wsUrl(), "news", 1);
    let sent = 0;
    // The first reader gets a head start of 2 MB it does not read.
    await publish(80);
    sent += 80;
    second!.pause();
    while (app.connections.has(first!.socketId) && sent < MAX_EVENTS) {
      await publish(10);
      sent += 10;
    }
    // The one furthest behind went; the other, also behind, stays while the total fits.
    expect(app.connections.has(first!.socketId)).toBe(false);
    expect(app.connections.has(second!.socketId)).toBe(true);
    while (app.connections.has(second!.socketId) && sent < MAX_EVENTS) {
      await publish(10);
      sent += 10;
    }
    expect(app.connections.has(second!.socketId)).toBe(false);
    await healthy!.waitFor(() => healthy!.count("tick") === sent, `all ${sent} events`, 5000);
    expect(healthy!.ws.readyState).toBe(WebSocket.OPEN);

    const text = await (await fetch(`${server.url}/metrics?token=t`)).text();
    expect(metricLine(text, "reverb_slow_consumers_closed_total", `{app="${APP.app_id}",limit="server"}`)).toBe(2);
    expect(metricLine(text, "reverb_slow_consumers_closed_total", `{app="${APP.app_id}",limit="socket"}`)).toBe(0);
    expect(metricLine(text, "reverb_outbound_buffered_bytes")).toBeLessThanOrEqual(1024 * 1024);
  });

  test.skipIf(!IN_PROCESS)("a burst past the cap is not a slow consumer: a client reading its way through keeps every event, a paused one goes", async () => {
    const server = await startTestServer({ server: { metrics_token: "t" } });
    servers.push(server);
    const app = server.hub.apps.findById(APP.app_id)!;
    const [paused, reading] = await connectPaused(server.port, APP.key, "news", 2);
    const readingSocket = app.connections.get(reading!.socketId)!.socket;

    // 8 MB in one turn of the loop, while neither reads: far past the 1 MiB cap.
    const burst = 320;
    const frame = JSON.stringify({ event: "tick", channel: "news", data: DATA });
    for (let i = 0; i < burst; i++) server.hub.deliver(app, "news", frame, null);
    expect(readingSocket.getBufferedAmount()).toBeGreaterThan(1024 * 1024);

    // One reads again, a chunk every 60 ms: several checks see it past its cap, but catching up.
    const started = Date.now();
    const frames = burst + 2;
    reading!.oneChunkAtATime = true;
    while (reading!.received < frames && Date.now() - started < 10_000) {
      reading!.resume();
      await Bun.sleep(60);
    }
    expect(reading!.received).toBe(frames);
    expect(app.connections.has(reading!.socketId)).toBe(true);
    await until(() => !app.connections.has(paused!.socketId), "the paused reader closed");
    const text = await (await fetch(`${server.url}/metrics?token=t`)).text();
    expect(metricLine(text, "reverb_slow_consumers_closed_total", `{app="${APP.app_id}",limit="socket"}`)).toBe(1);
  });
});
