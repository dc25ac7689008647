import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsClient, sdkFor } from "./helpers/api.ts";
import { runTlsPusherClient, selfSignedCertificate } from "./helpers/certificates.ts";
import { bannerOf, runCommand, type CliProcess } from "./helpers/cli.ts";
import { Clients } from "./helpers/clients.ts";
import { FLEET_METRICS_TOKEN, startFleet, stopFleet, type FleetNode } from "./helpers/fleet.ts";
import { nodeCli } from "./helpers/node-build.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP, startNodeServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

// The server started the Node way: `npm run start:node` is `node dist/node/cli.js start`, the
// bundle of the same sources on uWebSockets.js. `npm run test:uws` runs the WebSocket, HTTP API,
// metrics and scaling suites against it; these are the checks of the Node way itself.

const ROOT = join(import.meta.dir, "..");
const CREDENTIALS = { REVERB_APP_ID: APP.app_id, REVERB_APP_KEY: APP.key, REVERB_APP_SECRET: APP.secret };
const BLOCK_ON_SIGNAL = join(import.meta.dir, "fixtures", "block-on-signal.mjs");
const BURST_PUBLISHER = join(import.meta.dir, "fixtures", "burst-publisher.ts");

const clients = new Clients();
const dirs: string[] = [];
const running: CliProcess[] = [];
let server: TestServer | undefined;

afterEach(async () => {
  clients.disconnectAll();
  for (const run of running.splice(0)) {
    run.child.kill("SIGKILL");
    await run.child.exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await server?.stop();
  server = undefined;
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-node-"));
  dirs.push(dir);
  return dir;
}

/** `node dist/node/cli.js <args>` in a scratch folder, with the test app in its environment. */
function startOnNode(args: string[], env: Record<string, string> = {}): CliProcess {
  const cwd = scratch();
  const run = runCommand(["node", nodeCli(), ...args], cwd, { ...CREDENTIALS, HOME: cwd, ...env });
  running.push(run);
  return run;
}

describe("npm run start:node", () => {
  test("is node on the bundle that the build script makes", () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["start:node"]).toBe("node dist/node/cli.js start");
    expect(scripts.prepare).toBe("bun scripts/build-node.ts");
  });

  test("runs under Node on the native uWebSockets.js, not the package's ws fallback", async () => {
    const run = startOnNode(["start", "--host", "127.0.0.1", "--port", "0", "--debug"]);
    const { port } = await bannerOf(run, 15_000);
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/${APP.key}`);
    client.close();
    expect(await (await fetch(`http://127.0.0.1:${port}/up`)).json()).toEqual({ health: "OK" });
    expect(readFileSync(`/proc/${run.child.pid}/cmdline`, "utf8").split("\0")[0]).toBe("node");
    const maps = readFileSync(`/proc/${run.child.pid}/maps`, "utf8");
    expect(maps).toMatch(/uws_linux_x64_\d+\.node|uws_linux_arm64_\d+\.node/);
    expect(run.output.text).not.toMatch(/fallback/i);
  });

  test("pusher-js, laravel-echo and the pusher SDK work against it", async () => {
    server = await startNodeServer();
    const js = await JsClient.connect(server);
    clients.track({ disconnect: () => js.pusher.disconnect() });
    await js.subscribe("private-orders");
    const echo = await clients.echo(server);
    const echoed = new Promise<unknown>((resolve) => echo.private("orders").listen(".shipped", resolve));
    await within(
      new Promise<void>((resolve) => echo.connector.pusher.channel("private-orders").bind("pusher:subscription_succeeded", () => resolve())),
      "Echo to subscribe",
    );

    await sdkFor(server).trigger("private-orders", "shipped", { id: 7 });
    expect(await js.next("shipped")).toEqual({ channel: "private-orders", event: "shipped", data: { id: 7 } });
    expect(await within(echoed, "Echo's event")).toEqual({ id: 7 });

    const channels = await sdkFor(server).get({ path: "/channels", params: { info: "subscription_count" } });
    expect(await channels.json()).toEqual({ channels: { "private-orders": { subscription_count: 2 } } });
  });

  test("SIGTERM drains: every client gets 4200, then the process exits 0", async () => {
    const run = startOnNode(["start", "--host", "127.0.0.1", "--port", "0"]);
    const { port } = await bannerOf(run, 15_000);
    const sockets = await Promise.all([1, 2, 3].map(() => RawClient.connect(`ws://127.0.0.1:${port}/app/${APP.key}`)));
    run.child.kill("SIGTERM");
    const closes = await Promise.all(sockets.map((socket) => within(socket.closed, "the drain's close")));
    expect(closes.map(({ code }) => code)).toEqual([4200, 4200, 4200]);
    expect(await within(run.child.exited, "the process to exit", 5_000)).toBe(0);
    await run.drained;
    expect(run.output.text).toContain("Stopped");
  });

  test("--workers 2 is refused under Node, naming what to run instead", async () => {
    const run = startOnNode(["start", "--host", "127.0.0.1", "--port", "0", "--workers", "2"]);
    expect(await within(run.child.exited, "start to exit", 10_000)).toBe(1);
    await run.drained;
    expect(run.output.text).toContain("--workers 2 runs under Bun only: under Node run one process per port");
  });

  test("a port in use: start exits 1 naming the address", async () => {
    const first = startOnNode(["start", "--host", "127.0.0.1", "--port", "0"]);
    const { port } = await bannerOf(first, 15_000);
    const second = startOnNode(["start", "--host", "127.0.0.1", "--port", String(port)]);
    expect(await within(second.child.exited, "the second start to exit", 10_000)).toBe(1);
    await second.drained;
    expect(second.output.text).toContain(`Cannot listen on 127.0.0.1:${port}`);
  });
});

describe("TLS on uWebSockets.js (SSLApp)", () => {
  let certificates: string;
  let cert: string;
  let key: string;

  beforeAll(() => {
    certificates = mkdtempSync(join(tmpdir(), "reverb-uws-node-tls-"));
    ({ cert, key } = selfSignedCertificate(certificates));
  });

  afterAll(() => rmSync(certificates, { recursive: true, force: true }));

  test("pusher-js with forceTLS gets an event the HTTP API took over https", async () => {
    server = await startNodeServer({ server: { tls: { cert, key } } });
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    const ca = readFileSync(cert, "utf8");
    expect(await (await fetch(`${server.url}/up`, { tls: { ca } })).json()).toEqual({ health: "OK" });
    const { status, stdout, stderr } = await runTlsPusherClient(server.port, cert, APP);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(JSON.parse(stdout)).toEqual({ over: "wss" });
  });
});

describe("a fleet of Node servers over Redis (subscriber on worker_threads)", () => {
  let redis: RedisServer;
  let nodes: FleetNode[];

  beforeAll(async () => {
    redis = await RedisServer.start();
    nodes = await startFleet(2, { redisUrl: redis.url, node: true });
  }, 30_000);

  afterAll(async () => {
    await stopFleet(nodes);
    await redis.kill();
  });

  test("an event triggered on one node reaches a subscriber of the other", async () => {
    const subscriber = await RawClient.connect(nodes[1]!.wsUrl());
    await subscriber.subscribe("news");
    const response = await signedFetch(nodes[0]!.url, "POST", `/apps/${APP.app_id}/events`, { name: "headline", channel: "news", data: '{"n":1}' }, APP);
    expect(response.status).toBe(200);
    expect(await subscriber.next("headline")).toEqual({ event: "headline", channel: "news", data: '{"n":1}' });
    subscriber.close();
    for (const node of nodes) {
      expect(readFileSync(`/proc/${node.process.pid}/cmdline`, "utf8").split("\0")[0]).toBe("node");
      // Under Node the subscriber can only be a worker_threads Worker (Node 20 has no Web Worker).
      expect(node.output()).toContain("Redis subscriber connected");
    }
  });
});

describe("the Redis subscriber thread of a Node server whose loop is blocked", () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(() => redis.kill());

  /** `count` event envelopes on channel "burst" straight into Redis, from another process. */
  async function publish(count: number): Promise<number> {
    const publisher = Bun.spawn([process.execPath, BURST_PUBLISHER, redis.url, "reverb", APP.app_id, "burst", String(count)], { stdout: "ignore", stderr: "inherit" });
    return publisher.exited;
  }

  test("past max_backlog it drops and counts instead of queueing, keeps its Redis connection, and recovers", async () => {
    const dir = scratch();
    const configPath = join(dir, "reverb.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        server: { host: "127.0.0.1", port: 0, metrics_token: FLEET_METRICS_TOKEN, scaling: { enabled: true, server: { url: redis.url }, max_backlog: 20_000 } },
        apps: [{ ...APP, max_message_size: 0, max_buffered_bytes: 64 * 1024 * 1024 }],
      }),
    );
    const run = runCommand(["node", "--import", BLOCK_ON_SIGNAL, nodeCli(), "start", "--config", configPath], dir);
    running.push(run);
    const { port } = await bannerOf(run, 15_000);
    await until(() => run.output.text.includes("Redis subscriber connected"), "the subscriber to connect", 10_000);
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/${APP.key}`);
    await client.subscribe("burst");
    // Counted apart from RawClient's frame log, which is not made for 100k frames.
    const seen = { received: 0 };
    client.ws.addEventListener("message", () => seen.received++);

    run.child.kill("SIGUSR2");
    await quiet(50);
    expect(await publish(100_000)).toBe(0);
    await until(() => /dropped \d+ incoming envelopes/.test(run.output.text), "the drop warning", 15_000);
    await quiet(500);
    // What was admitted while blocked is delivered; the rest was counted, not queued.
    expect(seen.received).toBeGreaterThanOrEqual(20_000);
    expect(seen.received).toBeLessThan(100_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics?token=${FLEET_METRICS_TOKEN}`)).text();
    expect(metrics).toContain(`reverb_bus_dropped_total ${100_000 - seen.received}\n`);
    expect(run.output.text).not.toMatch(/disconnected/);

    const before = seen.received;
    expect(await publish(10)).toBe(0);
    await until(() => seen.received === before + 10, "events after the backlog cleared");
    client.close();
  }, 60_000);
});
