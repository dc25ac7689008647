/**
 * How long single operations keep our server from answering anything else: the longest the
 * server's loop went without running a 1 ms timer (loop-monitor.ts, preloaded), and the slowest
 * `/up` round trip (asked back to back by a separate process), while
 *   - `GET /apps/1/channels` (and `?info=subscription_count`) runs over --channels channels,
 *   - `GET /apps/1/channels/presence-big/users` runs over --members members,
 *   - `/metrics` is read,
 *   - --members presence members on one channel disconnect at once, until the watcher has seen
 *     every member_removed.
 * The baseline is the slowest `/up` over a quiet second.
 *
 *   npx bun bench/experiments/loop-block.ts [--channels 200000] [--members 3200]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Children } from "../lib/children.ts";
import { CREDENTIALS, startServerProcess } from "../lib/targets.ts";
import { signChannel } from "../../src/protocol/signatures.ts";
import { apiStringToSign, hmacSha256Hex } from "../../src/protocol/signatures.ts";

const { values } = parseArgs({
  options: { channels: { type: "string", default: "200000" }, members: { type: "string", default: "3200" } },
});
const channelCount = Number(values.channels);
const memberCount = Number(values.members);
const PROBER = fileURLToPath(new URL("./up-prober.ts", import.meta.url));
const MONITOR = fileURLToPath(new URL("./loop-monitor.ts", import.meta.url));
const TOKEN = "t";

const dir = mkdtempSync(join(tmpdir(), "reverb-uws-loop-block-"));
const configPath = join(dir, "config.json");
writeFileSync(
  configPath,
  JSON.stringify({
    server: { host: "127.0.0.1", port: 0, metrics_token: TOKEN },
    apps: [{ app_id: CREDENTIALS.appId, key: CREDENTIALS.key, secret: CREDENTIALS.secret, max_channels_per_connection: null, ping_interval: 3600 }],
  }),
);

const children = new Children();
let loopReport: ((ms: number) => void) | null = null;
const target = await startServerProcess(
  "ours",
  [process.execPath, "--preload", MONITOR, "src/cli.ts", "start", "--config", configPath],
  children,
  () => rmSync(dir, { recursive: true, force: true }),
  {},
  (line) => {
    const match = /^LOOP_MAX (\S+)/.exec(line);
    if (match) loopReport?.(Number(match[1]));
  },
);

/** The longest loop stall since the last call. */
function loopMax(): Promise<number> {
  return new Promise((resolve) => {
    loopReport = resolve;
    process.kill(target.pid, "SIGUSR2");
  });
}
const slow: Array<{ at: number; ms: number }> = [];
const prober = children.track(Bun.spawn([process.execPath, PROBER, `${target.apiBase}/up`], { stdout: "pipe", stderr: "inherit" }));
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

/** The slowest /up answer that ended while `work` ran (or up to 100 ms after). */
async function slowestUpDuring(label: string, work: () => Promise<unknown>): Promise<void> {
  await Bun.sleep(200);
  await loopMax();
  const start = Date.now();
  const began = performance.now();
  await work();
  const took = performance.now() - began;
  await Bun.sleep(100);
  const stalled = await loopMax();
  const during = slow.filter((probe) => probe.at >= start);
  const worst = during.reduce((max, probe) => Math.max(max, probe.ms), 0);
  console.log(`| ${label} | ${took.toFixed(0)} | ${stalled.toFixed(1)} | ${worst.toFixed(1)} | ${during.filter((probe) => probe.ms > 20).length} |`);
}

function signedUrl(path: string, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ auth_key: CREDENTIALS.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: "1.0", ...extra });
  params.set("auth_signature", hmacSha256Hex(CREDENTIALS.secret, apiStringToSign("GET", path, params, null)));
  return `${target.apiBase}${path}?${params}`;
}

/** Opens a socket and resolves with it and its socket id once established. */
function open(onMessage?: (text: string) => void): Promise<{ ws: WebSocket; socketId: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target.wsUrl);
    ws.onerror = () => reject(new Error("socket failed"));
    ws.onmessage = (event) => {
      const text = String(event.data);
      if (text.includes("pusher:connection_established")) {
        resolve({ ws, socketId: JSON.parse(JSON.parse(text).data).socket_id });
      } else onMessage?.(text);
    };
  });
}

console.log("| operation | took ms | longest loop stall ms | slowest /up ms | /up answers over 20 ms |");
console.log("|---|---|---|---|---|");
try {
  await slowestUpDuring("quiet second (baseline)", () => Bun.sleep(1000));

  // Channels: 20 sockets share the subscriptions; each counts its answers.
  const sockets = 20;
  let answered = 0;
  const holders = await Promise.all(Array.from({ length: sockets }, () => open(() => answered++)));
  for (let i = 0; i < channelCount; i++) holders[i % sockets]!.ws.send(`{"event":"pusher:subscribe","data":{"channel":"channel-${i}"}}`);
  while (answered < channelCount) await Bun.sleep(20);

  await slowestUpDuring(`GET /channels, ${channelCount} channels`, async () => (await fetch(signedUrl(`/apps/${CREDENTIALS.appId}/channels`))).text());
  await slowestUpDuring(`GET /channels?info=subscription_count, ${channelCount} channels`, async () =>
    (await fetch(signedUrl(`/apps/${CREDENTIALS.appId}/channels`, { info: "subscription_count" }))).text(),
  );
  await slowestUpDuring(`GET /metrics, ${channelCount} channels`, async () => (await fetch(`${target.apiBase}/metrics?token=${TOKEN}`)).text());
  for (const holder of holders) holder.ws.close();

  // Presence: one watcher, then the members join one by one.
  const channel = "presence-big";
  let removed = 0;
  const watcher = await open((text) => {
    if (text.includes("member_removed")) removed++;
  });
  const join = (socket: { ws: WebSocket; socketId: string }, user: string) => {
    const channelData = JSON.stringify({ user_id: user });
    socket.ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel, auth: signChannel(CREDENTIALS.key, CREDENTIALS.secret, socket.socketId, channel, channelData), channel_data: channelData } }));
  };
  join(watcher, "watcher");
  const members: WebSocket[] = [];
  for (let i = 0; i < memberCount; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, memberCount - i) }, () => open()));
    batch.forEach((socket, j) => join(socket, `user-${i + j}`));
    members.push(...batch.map((socket) => socket.ws));
  }
  await Bun.sleep(2000);

  await slowestUpDuring(`GET /channels/${channel}/users, ${memberCount} members`, async () => (await fetch(signedUrl(`/apps/${CREDENTIALS.appId}/channels/${channel}/users`))).text());
  await slowestUpDuring(`${memberCount} members disconnect at once`, async () => {
    for (const ws of members) ws.close();
    const deadline = Date.now() + 60_000;
    while (removed < memberCount && Date.now() < deadline) await Bun.sleep(10);
    if (removed < memberCount) console.log(`  (watcher saw ${removed} of ${memberCount} member_removed)`);
  });
  watcher.ws.close();
} finally {
  await children.stopAll();
}
