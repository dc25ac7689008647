/**
 * How long single operations keep a server from answering anything else: the longest the
 * server's loop went without running a 1 ms timer (loop-monitor.ts, preloaded), and the slowest
 * `/up` round trip (asked back to back by a separate process, up-prober.ts), while
 *   - `GET /apps/1/channels` (and `?info=subscription_count`) runs over --channels channels,
 *   - `/metrics` is read with that many channels,
 *   - `GET /apps/1/channels/presence-big/users` runs over --members members,
 *   - --members presence members on one channel disconnect at once, until a watcher has seen
 *     every member_removed.
 * The ceiling (bench/ceiling.ts) runs the rows it can: the quiet baseline and the mass leave
 * (it announces each member_removed as the socket closes, as we did before the leave queue).
 *
 *   npx bun bench/experiments/loop-block.ts [--channels 200000] [--members 3200] [--target ours,ceiling]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Children } from "../lib/children.ts";
import { CREDENTIALS, startServerProcess, type Target } from "../lib/targets.ts";
import { apiStringToSign, hmacSha256Hex, signChannel } from "../../src/protocol/signatures.ts";

const { values } = parseArgs({
  options: {
    channels: { type: "string", default: "200000" },
    members: { type: "string", default: "3200" },
    target: { type: "string", default: "ours,ceiling" },
  },
});
const channelCount = Number(values.channels);
const memberCount = Number(values.members);
const PROBER = fileURLToPath(new URL("./up-prober.ts", import.meta.url));
const MONITOR = fileURLToPath(new URL("./loop-monitor.ts", import.meta.url));
const CEILING = fileURLToPath(new URL("../ceiling.ts", import.meta.url));
const TOKEN = "t";

interface Row {
  label: string;
  tookMs: number;
  stallMs: number;
  slowestUpMs: number;
}

/** One server with the loop monitor preloaded and a prober asking it `/up`. */
async function startMeasured(kind: "ours" | "ceiling", children: Children) {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-loop-block-"));
  const configPath = join(dir, "config.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0, metrics_token: TOKEN },
      apps: [{ app_id: CREDENTIALS.appId, key: CREDENTIALS.key, secret: CREDENTIALS.secret, max_channels_per_connection: null, ping_interval: 3600 }],
    }),
  );
  let loopReport: ((ms: number) => void) | null = null;
  const script = kind === "ours" ? ["src/cli.ts", "start", "--config", configPath] : [CEILING, "--port", "0"];
  const target = await startServerProcess(kind, [process.execPath, "--preload", MONITOR, ...script], children, () => rmSync(dir, { recursive: true, force: true }), {}, (line) => {
    const match = /^LOOP_MAX (\S+)/.exec(line);
    if (match) loopReport?.(Number(match[1]));
  });
  const loopMax = () =>
    new Promise<number>((resolve) => {
      loopReport = resolve;
      process.kill(target.pid, "SIGUSR2");
    });

  const slow: Array<{ at: number; ms: number }> = [];
  const prober = children.track(Bun.spawn([process.execPath, PROBER, `${target.apiBase}/up`], { stdout: "pipe", stderr: "ignore" }));
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of prober.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const [at, ms] = line.split(" ").map(Number);
        slow.push({ at: at!, ms: ms! });
      }
    }
  })();

  /** The longest stall and slowest /up while `work` ran (and 100 ms after). */
  async function during(label: string, work: () => Promise<unknown>): Promise<Row> {
    await Bun.sleep(200);
    await loopMax();
    const start = Date.now();
    const began = performance.now();
    await work();
    const tookMs = performance.now() - began;
    await Bun.sleep(100);
    const stallMs = await loopMax();
    const slowestUpMs = slow.filter((probe) => probe.at >= start).reduce((max, probe) => Math.max(max, probe.ms), 0);
    return { label, tookMs, stallMs, slowestUpMs };
  }

  return { target, during, stop: () => children.stopAll() };
}

function signedUrl(target: Target, path: string, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ auth_key: CREDENTIALS.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: "1.0", ...extra });
  params.set("auth_signature", hmacSha256Hex(CREDENTIALS.secret, apiStringToSign("GET", path, params, null)));
  return `${target.apiBase}${path}?${params}`;
}

/** Opens a socket and resolves once established; later text frames go to `onMessage`. */
function open(target: Target, onMessage?: (text: string) => void): Promise<{ ws: WebSocket; socketId: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target.wsUrl);
    ws.onerror = () => reject(new Error("socket failed"));
    ws.onmessage = (event) => {
      const text = String(event.data);
      if (text.includes("pusher:connection_established")) resolve({ ws, socketId: JSON.parse(JSON.parse(text).data).socket_id });
      else onMessage?.(text);
    };
  });
}

async function channelRows(target: Target, during: (label: string, work: () => Promise<unknown>) => Promise<Row>): Promise<Row[]> {
  let answered = 0;
  const holders = await Promise.all(Array.from({ length: 20 }, () => open(target, () => answered++)));
  for (let i = 0; i < channelCount; i++) holders[i % holders.length]!.ws.send(`{"event":"pusher:subscribe","data":{"channel":"channel-${i}"}}`);
  while (answered < channelCount) await Bun.sleep(20);
  const rows = [
    await during(`GET /channels, ${channelCount} channels`, async () => (await fetch(signedUrl(target, `/apps/${CREDENTIALS.appId}/channels`))).text()),
    await during(`GET /channels?info=subscription_count, ${channelCount} channels`, async () =>
      (await fetch(signedUrl(target, `/apps/${CREDENTIALS.appId}/channels`, { info: "subscription_count" }))).text(),
    ),
    await during(`GET /metrics, ${channelCount} channels`, async () => (await fetch(`${target.apiBase}/metrics?token=${TOKEN}`)).text()),
  ];
  for (const holder of holders) holder.ws.close();
  return rows;
}

async function presenceRows(kind: string, target: Target, during: (label: string, work: () => Promise<unknown>) => Promise<Row>): Promise<Row[]> {
  const channel = "presence-big";
  let removed = 0;
  const watcher = await open(target, (text) => {
    if (text.includes("member_removed")) removed++;
  });
  const join = (socket: { ws: WebSocket; socketId: string }, user: string) => {
    const channelData = JSON.stringify({ user_id: user });
    socket.ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel, auth: signChannel(CREDENTIALS.key, CREDENTIALS.secret, socket.socketId, channel, channelData), channel_data: channelData } }));
  };
  join(watcher, "watcher");
  const members: WebSocket[] = [];
  for (let i = 0; i < memberCount; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, memberCount - i) }, () => open(target)));
    batch.forEach((socket, j) => join(socket, `user-${i + j}`));
    members.push(...batch.map((socket) => socket.ws));
  }
  await Bun.sleep(2000);
  const rows: Row[] = [];
  if (kind === "ours") {
    rows.push(await during(`GET /channels/${channel}/users, ${memberCount} members`, async () => (await fetch(signedUrl(target, `/apps/${CREDENTIALS.appId}/channels/${channel}/users`))).text()));
  }
  rows.push(
    await during(`${memberCount} presence members disconnect at once`, async () => {
      for (const ws of members) ws.close();
      const deadline = Date.now() + 60_000;
      while (removed < memberCount && Date.now() < deadline) await Bun.sleep(10);
      if (removed < memberCount) console.log(`  (${kind}: the watcher saw ${removed} of ${memberCount} member_removed)`);
    }),
  );
  watcher.ws.close();
  return rows;
}

const results = new Map<string, Map<string, Row>>();
for (const kind of values.target.split(",") as Array<"ours" | "ceiling">) {
  const children = new Children();
  const { target, during, stop } = await startMeasured(kind, children);
  try {
    const rows = [await during("quiet second (baseline)", () => Bun.sleep(1000))];
    if (kind === "ours") rows.push(...(await channelRows(target, during)));
    rows.push(...(await presenceRows(kind, target, during)));
    results.set(kind, new Map(rows.map((row) => [row.label, row])));
  } finally {
    await stop();
  }
}

const fmt = (value: number | undefined, digits = 1) => (value === undefined ? "–" : value.toFixed(digits));
console.log("| operation | took ms (ours) | longest loop stall ms (ours) | slowest /up ms (ours) | loop stall ms (ceiling) | ours/ceiling |");
console.log("|---|--:|--:|--:|--:|--:|");
for (const [label, row] of results.get("ours") ?? new Map<string, Row>()) {
  const ceiling = results.get("ceiling")?.get(label);
  const ratio = ceiling ? fmt(row.stallMs / ceiling.stallMs, 2) : "n/a";
  console.log(`| ${label} | ${fmt(row.tookMs, 0)} | ${fmt(row.stallMs)} | ${fmt(row.slowestUpMs)} | ${fmt(ceiling?.stallMs)} | ${ratio} |`);
}
