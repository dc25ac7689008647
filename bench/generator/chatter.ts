import { sleep, wallMs } from "../lib/clock.ts";
import { stamp, type ChatterParams } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import type { PusherSocket } from "./pusher-socket.ts";
import { padding } from "./trigger.ts";

/**
 * Every subscribed socket whispers `client-bench` on its own channel at `ratePerSocket`, taking
 * turns round-robin; the others in its channel receive it stamped.
 */
export async function chatter(params: ChatterParams, sockets: PusherSocket[], metrics: Metrics): Promise<void> {
  const speakers = sockets.filter((socket) => socket.channel !== null);
  if (speakers.length === 0) return;
  const pad = padding(params.payloadBytes);
  const rate = params.ratePerSocket * speakers.length;
  const start = performance.now();
  const end = start + params.durationMs;
  let sent = 0;

  for (let now = start; now < end; now = performance.now()) {
    const due = Math.floor(((now - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const socket = speakers[sent % speakers.length]!;
      socket.send(JSON.stringify({ event: "client-bench", channel: socket.channel, data: { m: `${stamp(wallMs())}${pad}` } }));
      metrics.sent++;
    }
    await sleep(1);
  }
}
