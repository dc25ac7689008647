/**
 * The "ceiling": the thinnest Bun.serve that speaks enough Pusher for the benchmark's clients.
 * It is what Bun's uWebSockets gives with no server logic at all, so ours/ceiling says how much
 * our protocol work costs. It checks what no correct server may skip, the HTTP API's body MD5 and
 * signature; deliberately absent: channel auth checks, validation, limits, liveness, cache
 * channels, app lookup, logging.
 *
 *   bun bench/ceiling.ts --port 0   → prints "Starting server on 127.0.0.1:<port>"
 */
import { timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";

interface Member {
  id: unknown;
  info: unknown;
  sockets: number;
}

interface SocketState {
  socketId: string;
  /** Presence channel → user key, so leaving can announce member_removed. */
  presence: Map<string, string>;
}

/** Presence needs members in subscription_succeeded; without them it would not be Pusher. */
const members = new Map<string, Map<string, Member>>();

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, secret: { type: "string", default: "s" } } });
const SECRET = values.secret;

/**
 * The least a correct server checks on `POST /events`: the body's MD5, the HMAC-SHA256 of the
 * request, and the timestamp window. Without it ours/ceiling would charge us for a check no
 * server may skip.
 */
function signedBy(secret: string, url: URL, body: string): boolean {
  const params = url.searchParams;
  const timestamp = Number(params.get("auth_timestamp"));
  if (!(Math.abs(Date.now() / 1000 - timestamp) <= 600)) return false;
  if (params.get("body_md5") !== new Bun.CryptoHasher("md5").update(body).digest("hex")) return false;
  const signed = [...params].filter(([name]) => name !== "auth_signature").sort(([a], [b]) => (a < b ? -1 : 1));
  const toSign = `POST\n${url.pathname}\n${signed.map(([name, value]) => `${name}=${value}`).join("&")}`;
  const expected = new Bun.CryptoHasher("sha256", secret).update(toSign).digest("hex");
  const given = params.get("auth_signature") ?? "";
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
const randomPart = () => 1 + Math.floor(Math.random() * 1_000_000_000);

function succeeded(channel: string, data: string): string {
  return JSON.stringify({ event: "pusher_internal:subscription_succeeded", data, channel });
}

function presenceData(channelMembers: Map<string, Member>): string {
  const ids: unknown[] = [];
  const hash: Record<string, unknown> = {};
  for (const [key, member] of channelMembers) {
    ids.push(member.id);
    hash[key] = member.info ?? null;
  }
  return JSON.stringify({ presence: { count: ids.length, ids, hash } });
}

function leavePresence(state: SocketState, channel: string): string | null {
  const key = state.presence.get(channel);
  if (key === undefined) return null;
  state.presence.delete(channel);
  const channelMembers = members.get(channel)!;
  const member = channelMembers.get(key)!;
  if (--member.sockets > 0) return null;
  channelMembers.delete(key);
  if (channelMembers.size === 0) members.delete(channel);
  return JSON.stringify({ event: "pusher_internal:member_removed", data: JSON.stringify({ user_id: member.id }), channel });
}

const server = Bun.serve<SocketState>({
  hostname: "127.0.0.1",
  port: Number(values.port),

  async fetch(request, server) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/app/")) {
      const data: SocketState = { socketId: `${randomPart()}.${randomPart()}`, presence: new Map() };
      if (server.upgrade(request, { data })) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    if (request.method === "POST" && url.pathname.endsWith("/events")) {
      const text = await request.text();
      if (!signedBy(SECRET, url, text)) return new Response("bad signature", { status: 401 });
      const body = JSON.parse(text) as { name: string; data: string; channel?: string; channels?: string[] };
      for (const channel of body.channels ?? [body.channel!]) {
        server.publish(channel, JSON.stringify({ event: body.name, data: body.data, channel }));
      }
      return new Response("{}", { headers: { "Content-Type": "application/json" } });
    }
    return new Response("not found", { status: 404 });
  },

  websocket: {
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate: false,
    maxPayloadLength: 100_000,

    open(ws) {
      ws.send(
        JSON.stringify({
          event: "pusher:connection_established",
          data: JSON.stringify({ socket_id: ws.data.socketId, activity_timeout: 30 }),
        }),
      );
    },

    message(ws, raw) {
      const message = JSON.parse(String(raw)) as { event: string; channel?: string; data?: unknown };
      const data = (typeof message.data === "string" ? JSON.parse(message.data) : message.data) as Record<string, string> | undefined;
      switch (message.event) {
        case "pusher:subscribe": {
          const channel = data!.channel!;
          ws.subscribe(channel);
          if (!channel.startsWith("presence-")) return void ws.send(succeeded(channel, "{}"));
          const channelData = data!.channel_data ?? "{}";
          const parsed = JSON.parse(channelData) as { user_id: unknown; user_info?: unknown };
          const key = String(parsed.user_id);
          let channelMembers = members.get(channel);
          if (!channelMembers) members.set(channel, (channelMembers = new Map()));
          const member = channelMembers.get(key);
          if (member) member.sockets++;
          else {
            channelMembers.set(key, { id: parsed.user_id, info: parsed.user_info, sockets: 1 });
            ws.publish(channel, JSON.stringify({ event: "pusher_internal:member_added", data: channelData, channel }));
          }
          ws.data.presence.set(channel, key);
          return void ws.send(succeeded(channel, presenceData(channelMembers)));
        }
        case "pusher:unsubscribe": {
          const channel = data!.channel!;
          ws.unsubscribe(channel);
          const removed = leavePresence(ws.data, channel);
          if (removed) server.publish(channel, removed);
          return;
        }
        case "pusher:ping":
          return void ws.send('{"event":"pusher:pong"}');
        default:
          // A client event goes to the channel's other subscribers if the sender is one.
          if (message.event.startsWith("client-") && message.channel && ws.isSubscribed(message.channel)) {
            ws.publish(message.channel, JSON.stringify({ event: message.event, channel: message.channel, data: message.data }));
          }
      }
    },

    close(ws) {
      for (const channel of [...ws.data.presence.keys()]) {
        const removed = leavePresence(ws.data, channel);
        if (removed) server.publish(channel, removed);
      }
    },
  },
});

console.log(`Starting server on 127.0.0.1:${server.port}`);

// An orderly exit on SIGTERM, so `bun --cpu-prof` gets to write its profile.
process.once("SIGTERM", () => process.exit(0));

// Started by the bench runner: leave with it, even if it was killed without cleaning up.
const parent = Number(process.env.BENCH_PARENT_PID);
if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1_000);
}
