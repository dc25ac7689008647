import { signChannel } from "../../src/protocol/signatures.ts";
import type { ChannelPlan, OpenParams, OpenResult } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import { pool } from "./pool.ts";
import { PusherSocket } from "./pusher-socket.ts";

export function channelFor(plan: ChannelPlan, index: number): string {
  return plan.groupSize === null ? plan.prefix : `${plan.prefix}${Math.floor(index / plan.groupSize)}`;
}

/** Presence members need a user id; a unique one per socket makes every join a real join. */
function channelDataFor(channel: string, index: number): string | null {
  return channel.startsWith("presence-") ? JSON.stringify({ user_id: index, user_info: { name: `user ${index}` } }) : null;
}

/** Opens `count` sockets (and subscribes each to its planned channel), appending them to `into`. */
export async function openSockets(params: OpenParams, metrics: Metrics, into: PusherSocket[]): Promise<OpenResult> {
  const { credentials, channel: plan } = params;
  let failed = 0;
  let firstError: string | null = null;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let lastEstablished = start;
  const want = params.want;
  let established = 0;
  let missed = 0;

  await pool(params.count, params.concurrency, async (i) => {
    if (want !== undefined && established >= want) return;
    let index = params.offset + i;
    let socket: PusherSocket;
    try {
      socket = await PusherSocket.open(params.wsUrl, metrics, params.timeoutMs);
    } catch (error) {
      if (want !== undefined) {
        missed++;
        return;
      }
      failed++;
      firstError ??= (error as Error).message;
      return;
    }
    if (want !== undefined) {
      if (established >= want) {
        socket.close();
        return;
      }
      index = params.offset + established;
    }
    established++;
    try {
      lastEstablished = performance.now();
      into.push(socket);
      if (!plan) return;
      const channel = channelFor(plan, index);
      socket.channel = channel;
      socket.channelData = channelDataFor(channel, index);
      if (channel.startsWith("private-") || channel.startsWith("presence-")) {
        socket.auth = signChannel(credentials.key, credentials.secret, socket.socketId, channel, socket.channelData);
      }
      await socket.subscribe(params.timeoutMs);
    } catch (error) {
      failed++;
      firstError ??= (error as Error).message;
    }
  });

  const used = process.cpuUsage(cpu);
  return {
    opened: want === undefined ? params.count - failed : established - failed,
    missed,
    failed,
    firstError,
    connectSeconds: (lastEstablished - start) / 1000,
    totalSeconds: (performance.now() - start) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}
