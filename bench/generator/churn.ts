import type { ChurnParams } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";
import type { PusherSocket } from "./pusher-socket.ts";

const JOIN_TIMEOUT_MS = 5_000;

/**
 * Presence churn, closed loop per socket: leave, re-join, wait for `subscription_succeeded`,
 * repeat. Each cycle makes the server send member_removed and member_added to the channel.
 */
export async function churn(params: ChurnParams, sockets: PusherSocket[], metrics: Metrics): Promise<void> {
  const end = performance.now() + params.durationMs;
  const member = async (socket: PusherSocket) => {
    while (performance.now() < end) {
      socket.unsubscribe();
      const started = performance.now();
      try {
        await socket.subscribe(JOIN_TIMEOUT_MS);
        metrics.completed(performance.now() - started);
      } catch (error) {
        metrics.error((error as Error).message);
        return;
      }
    }
  };
  await Promise.all(sockets.filter((socket) => socket.channel !== null).map(member));
}
