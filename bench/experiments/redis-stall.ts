/**
 * A stalled Redis (SIGSTOP) under load: two nodes and a redis-server of their own; `--rate`
 * events/s of `--payload` bytes are triggered on node A for the whole run, `--healthy` clients
 * read them on node B, and one presence member sits on each node. Redis is stopped for `--stall`
 * seconds, then continued and watched for `--after` seconds. Reports both nodes' RSS before,
 * during and after, node A's buffer, the catch-up burst as B's clients saw it (largest number of
 * events in 100 ms, and how old they were), close codes, and false member_removed frames.
 * `--cli` runs another tree's src/cli.ts (an older commit, for a before/after).
 *
 *   npx bun bench/experiments/redis-stall.ts [--rate 500] [--payload 1000] [--stall 30] [--cli path]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { apiStringToSign, hmacSha256Hex, md5Hex, signChannel } from "../../src/protocol/signatures.ts";
import { sleep } from "../lib/clock.ts";
import { rssKb } from "../lib/procfs.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "500" },
    payload: { type: "string", default: "1000" },
    stall: { type: "string", default: "30" },
    after: { type: "string", default: "15" },
    healthy: { type: "string", default: "10" },
    "node-timeout": { type: "string", default: "10" },
    cli: { type: "string", default: fileURLToPath(new URL("../../src/cli.ts", import.meta.url)) },
  },
});
const rate = Number(values.rate);
const payload = "x".repeat(Number(values.payload));
const APP = { app_id: "1", key: "stall-key", secret: "stall-secret" };
const dir = mkdtempSync(join(tmpdir(), "reverb-uws-stall-"));
const children: Bun.Subprocess[] = [];

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function startRedis(): Promise<{ process: Bun.Subprocess; url: string }> {
  const port = freePort();
  const process = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
  children.push(process);
  await sleep(300);
  return { process, url: `redis://127.0.0.1:${port}` };
}

async function startNode(name: string, redisUrl: string): Promise<{ pid: number; url: string; output: () => string }> {
  const config = join(dir, `${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0, scaling: { enabled: true, node_timeout: Number(values["node-timeout"]), server: { url: redisUrl } } },
      apps: [{ ...APP, accept_client_events_from: "members" }],
    }),
  );
  const child = Bun.spawn([process.execPath, values.cli!, "start", "--config", config], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", REVERB_RUNTIME_DIR: join(dir, name) },
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push(child);
  let text = "";
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      for await (const chunk of stream) text += new TextDecoder().decode(chunk);
    })();
  }
  for (let i = 0; i < 200 && !/Starting server on [^:]+:(\d+)/.test(text); i++) await sleep(50);
  const port = Number(/Starting server on [^:]+:(\d+)/.exec(text)?.[1]);
  if (!port) throw new Error(`node ${name} did not start:\n${text}`);
  return { pid: child.pid, url: `127.0.0.1:${port}`, output: () => text };
}

function trigger(base: string, data: string): Promise<Response> {
  const path = `/apps/${APP.app_id}/events`;
  const body = JSON.stringify({ name: "tick", channel: "stall", data });
  const params = new URLSearchParams({ auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: "1.0", body_md5: md5Hex(body) });
  params.set("auth_signature", hmacSha256Hex(APP.secret, apiStringToSign("POST", path, params, md5Hex(body))));
  return fetch(`http://${base}${path}?${params}`, { method: "POST", body, headers: { "Content-Type": "application/json" } });
}

interface Reader {
  arrivals: Array<{ at: number; sentAt: number }>;
  removed: number;
  closed: number | null;
}

async function reader(base: string, presenceUser: number | null): Promise<Reader> {
  const state: Reader = { arrivals: [], removed: 0, closed: null };
  const ws = new WebSocket(`ws://${base}/app/${APP.key}`);
  const ready = Promise.withResolvers<void>();
  ws.onmessage = (event) => {
    const frame = JSON.parse(String(event.data)) as { event: string; data?: string };
    if (frame.event === "pusher:connection_established") {
      const socketId = (JSON.parse(frame.data!) as { socket_id: string }).socket_id;
      if (presenceUser === null) ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "stall" } }));
      else {
        const channelData = JSON.stringify({ user_id: presenceUser });
        const auth = signChannel(APP.key, APP.secret, socketId, "presence-stall", channelData);
        ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "presence-stall", auth, channel_data: channelData } }));
      }
    } else if (frame.event === "pusher_internal:subscription_succeeded") ready.resolve();
    else if (frame.event === "tick") state.arrivals.push({ at: Date.now(), sentAt: Number(frame.data!.slice(0, frame.data!.indexOf(":"))) });
    else if (frame.event === "pusher_internal:member_removed") state.removed++;
  };
  ws.onclose = (event) => {
    state.closed = event.code;
  };
  await ready.promise;
  return state;
}

const mb = (kb: number) => (kb / 1024).toFixed(0);

try {
  const redis = await startRedis();
  const a = await startNode("A", redis.url);
  const b = await startNode("B", redis.url);
  await sleep(1500);
  const healthy = await Promise.all(Array.from({ length: Number(values.healthy) }, () => reader(b.url, null)));
  const members = [await reader(a.url, 1), await reader(b.url, 2)];

  let running = true;
  let inFlight = 0;
  let sent = 0;
  const load = (async () => {
    const start = performance.now();
    while (running) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due && inFlight < 64) {
        inFlight++;
        sent++;
        void trigger(a.url, `${Date.now()}:${payload}`).finally(() => inFlight--);
      }
      await sleep(2);
    }
  })();

  const samples: Array<{ phase: string; a: number; b: number }> = [];
  const sample = async (phase: string, seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      samples.push({ phase, a: rssKb(a.pid), b: rssKb(b.pid) });
      await sleep(1000);
    }
  };
  await sample("before", 5);
  redis.process.kill("SIGSTOP");
  const pausedAt = Date.now();
  await sample("stall", Number(values.stall));
  redis.process.kill("SIGCONT");
  const resumedAt = Date.now();
  await sample("after", Number(values.after));
  running = false;
  await load;

  const phase = (name: string) => samples.filter((s) => s.phase === name);
  const peak = (name: string, key: "a" | "b") => Math.max(...phase(name).map((s) => s[key]));
  const base = (key: "a" | "b") => phase("before").at(-1)![key];
  console.log(`cli ${values.cli}; ${rate} events/s of ${payload.length} B on node A, ${healthy.length} readers on node B, stall ${values.stall} s, node_timeout ${values["node-timeout"]} s`);
  console.log(`RSS MB node A: before ${mb(base("a"))}, peak in stall ${mb(peak("stall", "a"))}, peak after ${mb(peak("after", "a"))}`);
  console.log(`RSS MB node B: before ${mb(base("b"))}, peak in stall ${mb(peak("stall", "b"))}, peak after ${mb(peak("after", "b"))}`);
  const timeline = phase("stall").filter((_, i) => i % 5 === 4);
  console.log(`node A RSS MB every 5 s of the stall: ${timeline.map((s) => mb(s.a)).join(" ")}`);
  const first = healthy[0]!;
  const afterResume = first.arrivals.filter((arrival) => arrival.at >= resumedAt);
  let burst = 0;
  for (let i = 0, j = 0; i < afterResume.length; i++) {
    while (afterResume[i]!.at - afterResume[j]!.at > 100) j++;
    burst = Math.max(burst, i - j + 1);
  }
  const stale = afterResume.filter((arrival) => arrival.sentAt < resumedAt);
  const oldest = stale.length ? Math.max(...stale.map((arrival) => arrival.at - arrival.sentAt)) : 0;
  console.log(`events triggered ${sent}; reader 1 received ${first.arrivals.length}, of them sent during the stall ${first.arrivals.filter((x) => x.sentAt >= pausedAt && x.sentAt < resumedAt).length}`);
  console.log(`catch-up: largest 100 ms burst ${burst} events; ${stale.length} stall-time events delivered after resume, oldest ${(oldest / 1000).toFixed(1)} s old`);
  console.log(`readers closed: ${healthy.filter((r) => r.closed !== null).map((r) => r.closed).join(",") || "none"} of ${healthy.length}; member_removed seen by presence members: ${members.map((m) => m.removed).join(", ")}`);
  const warnings = (text: string) => text.split("\n").filter((line) => /WARN/.test(line)).map((line) => line.replace(/^.*WARN\s*/, "").slice(0, 140));
  console.log(`node A warnings:\n  ${warnings(a.output()).join("\n  ")}`);
  console.log(`node B warnings:\n  ${warnings(b.output()).join("\n  ")}`);
} finally {
  for (const child of children) {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
}
