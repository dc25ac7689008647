import Redis from "ioredis";
import { encodeEnvelope } from "./bus/envelope.ts";
import { redisOptions } from "./bus/redis-options.ts";
import type { Config } from "./config/schema.ts";
import { runningServers } from "./lifecycle/runtime-files.ts";

/**
 * Asks every running server to drain and exit: local ones by signal (found through their
 * runtime files), and, with scaling on, the whole fleet through a Redis envelope.
 */
export async function requestRestart(config: Config, runtimeDir: string, say: (line: string) => void): Promise<void> {
  const local = runningServers(runtimeDir);
  for (const entry of local) {
    process.kill(entry.pid, "SIGHUP");
    say(`Signalled the server on ${entry.host}:${entry.port} (pid ${entry.pid})`);
  }
  const { scaling } = config.server;
  if (scaling.enabled) {
    const redis = new Redis({ ...redisOptions(scaling.server), retryStrategy: () => null, connectTimeout: 5_000, lazyConnect: true });
    try {
      await redis.connect();
      const heard = await redis.publish(`${scaling.prefix}${scaling.channel}`, encodeEnvelope(`restart-command-${process.pid}`, { t: "restart" }));
      say(`Broadcast the restart signal to the fleet on Redis channel ${scaling.prefix}${scaling.channel} (${heard} subscribers)`);
    } finally {
      redis.disconnect();
    }
  } else if (local.length === 0) {
    say(`No running server found (runtime folder ${runtimeDir}) and scaling is off: nothing to restart`);
  }
}
