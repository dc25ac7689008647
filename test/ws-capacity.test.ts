import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bannerOf, runCli } from "./helpers/cli.ts";
import Pusher from "pusher-js";
import { pusherOptions } from "./helpers/clients.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until, within } from "./helpers/waits.ts";

const running: Bun.Subprocess[] = [];
const servers: TestServer[] = [];
const pushers: Pusher[] = [];
const clients: RawClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const pusher of pushers.splice(0)) pusher.disconnect();
  for (const server of servers.splice(0)) await server.stop();
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const child of running.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const ENV = { REVERB_APP_ID: "1", REVERB_APP_KEY: "key", REVERB_APP_SECRET: "secret", REVERB_METRICS_TOKEN: "t" };
/** The reproduction: `ulimit -n 300`, then 350 WebSockets held. */
const LIMIT = 300;
const SOCKETS = 350;

/** `reverb-uws start` under `ulimit -n limit` (soft and hard, so Bun cannot raise it). */
async function startLimited(limit: number, env: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "reverb-uws-capacity-"));
  dirs.push(cwd);
  const run = runCli(["start", "--host", "127.0.0.1", "--port", "0"], cwd, { ...ENV, ...env }, ["sh", "-c", `ulimit -n ${limit} && exec "$0" "$@"`]);
  running.push(run.child);
  const { port } = await bannerOf(run);
  return { ...run, port, url: `ws://127.0.0.1:${port}/app/key`, http: `http://127.0.0.1:${port}` };
}

/** CPU time of a process so far, in clock ticks (1/100 s): utime + stime from /proc. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics?token=t`)).text();
  const line = text.split("\n").find((row) => row.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in:\n${text}`);
  return Number(line.split(" ")[1]);
}

/** Opens `count` sockets, `batch` at a time; each settles on its first frame or its close. */
async function openMany(url: string, count: number, batch = 25): Promise<RawClient[]> {
  const opened: RawClient[] = [];
  for (let i = 0; i < count; i += batch) {
    const round = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => within(RawClient.connect(url), "a socket's first frame", 5000)));
    opened.push(...round);
    clients.push(...round);
  }
  return opened;
}

const isEstablished = (client: RawClient) => client.frames[0]?.event === "pusher:connection_established";

describe("open-files headroom", () => {
  test(`at ulimit -n ${LIMIT}, ${SOCKETS} sockets: the ones past the reserve get 4100, /up answers, nothing spins`, async () => {
    const server = await startLimited(LIMIT);
    const sockets = await openMany(server.url, SOCKETS);
    const established = sockets.filter(isEstablished);
    const refused = sockets.filter((client) => !isEstablished(client));

    // The default reserve is 32 files; the rest of the room is what the runtime itself holds.
    expect(established.length).toBeGreaterThan(200);
    expect(established.length).toBeLessThanOrEqual(LIMIT - 32);
    expect(refused.length).toBe(SOCKETS - established.length);
    for (const client of refused) {
      expect(client.frames[0]).toEqual({ event: "pusher:error", data: JSON.stringify({ code: 4100, message: "Over capacity" }) });
      expect(await within(client.closed, "the refused socket's close")).toEqual({ code: 4100, reason: "Over capacity" });
    }

    // Holding every socket: /up answers and the process is not spinning.
    const health = await within(fetch(`${server.http}/up`), "/up", 2000);
    expect(await health.json()).toEqual({ health: "OK" });
    const before = cpuTicks(server.child.pid);
    await Bun.sleep(1000);
    expect(cpuTicks(server.child.pid) - before).toBeLessThan(30);

    // Established sockets still work.
    const first = established[0]!;
    first.send({ event: "pusher:ping" });
    await first.next("pusher:pong");

    expect(await metric(server.http, "reverb_over_capacity_refusals_total")).toBe(refused.length);
    expect(await metric(server.http, "reverb_open_files_limit")).toBe(LIMIT);
    expect(await metric(server.http, "reverb_open_files_reserve")).toBe(32);
    // One warning for the whole burst.
    expect(server.output.text.match(/Over capacity: \d+ of 300 open files in use \(32 kept in reserve\)/g)).toHaveLength(1);
    expect(server.output.text).not.toContain("WebSocket refused");

    // Room comes back as clients leave.
    for (const client of established.slice(0, 20)) client.close();
    await within((async () => {
      while ((await metric(server.http, "reverb_open_files")) > LIMIT - 32 - 10) await Bun.sleep(20);
    })(), "the closed sockets to be counted out");
    const late = await within(RawClient.connect(server.url), "a new socket");
    clients.push(late);
    expect(isEstablished(late)).toBe(true);
  });

  test("max_open_files_reserve sets the reserve", async () => {
    const server = await startLimited(LIMIT, { REVERB_MAX_OPEN_FILES_RESERVE: "200" });
    // The lines after the banner may reach the pipe in a later chunk.
    await until(() => server.output.text.includes("Open files limit"), "the open-files line");
    expect(server.output.text).toMatch(/Open files limit \(ulimit -n\) 300: room for about \d+ connections \(200 kept in reserve\)/);
    const sockets = await openMany(server.url, 120);
    const established = sockets.filter(isEstablished).length;
    expect(established).toBeGreaterThan(50);
    expect(established).toBeLessThanOrEqual(100);
    expect(await metric(server.http, "reverb_over_capacity_refusals_total")).toBe(120 - established);
  });

  test("pusher-js refused with 4100 does not give up: it retries after a back-off", async () => {
    // A reserve as large as the limit leaves no room at all.
    const server = await startTestServer({ server: { max_open_files_reserve: 1_000_000, metrics_token: "t" } });
    servers.push(server);
    const pusher = new Pusher(APP.key, pusherOptions(server));
    pushers.push(pusher);
    const errors: unknown[] = [];
    const states: string[] = [];
    pusher.connection.bind("error", (event: unknown) => errors.push(event));
    pusher.connection.bind("state_change", ({ current }: { current: string }) => states.push(current));
    await within(
      (async () => {
        while ((await metric(server.url, "reverb_over_capacity_refusals_total")) < 2) await Bun.sleep(50);
      })(),
      "a second attempt",
      5000,
    );
    expect(errors[0]).toEqual({ type: "WebSocketError", error: { type: "PusherError", data: { code: 4100, message: "Over capacity" } } });
    expect(states).not.toContain("failed");
    expect(pusher.connection.state).not.toBe("disconnected");
  });
});
