import Redis from "ioredis";
import type { Children } from "./children.ts";
import { withTimeout } from "./clock.ts";

/** Starting redis-server takes milliseconds; past this something is wrong (port taken, no binary). */
const START_TIMEOUT_MS = 10_000;
/** The runner's own probe connection retries this fast while redis-server starts. */
const RETRY_MS = 50;

/** One pub/sub connection as Redis' CLIENT LIST shows it. */
export interface PubsubClient {
  id: string;
  name: string;
  /** Bytes waiting in Redis' output buffer for this client: what `client-output-buffer-limit` checks. */
  omem: number;
}

/** A redis-server started for one run, and the runner's probe connection to it. */
export interface RedisProcess {
  pid: number;
  url: string;
  pubsubClients(): Promise<PubsubClient[]>;
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1; redis-server cannot be told to pick one itself. */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

function parseClientList(text: string): PubsubClient[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const fields = new Map(line.trim().split(" ").map((pair) => pair.split("=", 2) as [string, string]));
      return { id: fields.get("id") ?? "", name: fields.get("name") ?? "", omem: Number(fields.get("omem") ?? 0) };
    });
}

/**
 * A throwaway redis-server on a free loopback port, without persistence, stopped with the run like
 * every other child. Its `client-output-buffer-limit` is left at the default (pubsub 32mb 8mb 60),
 * so the cross-node burst sees what a stock Redis would do to a subscriber that falls behind.
 */
export async function startRedis(children: Children): Promise<RedisProcess> {
  const binary = Bun.which("redis-server");
  if (!binary) throw new Error("redis-server is not installed (apt-get install redis-server)");
  const port = freePort();
  const child = children.track(
    Bun.spawn([binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    }),
  );
  const probe = new Redis({ host: "127.0.0.1", port, connectionName: "bench-probe", retryStrategy: () => RETRY_MS, maxRetriesPerRequest: null });
  // Connection errors while it starts (or after it is stopped) are expected; the PING deadline judges.
  probe.on("error", () => undefined);
  const stop = async () => {
    probe.disconnect();
    await children.stop(child);
  };
  try {
    const exited = child.exited.then((code) => Promise.reject(new Error(`redis-server exited (${code}) before answering`)));
    await withTimeout(Promise.race([probe.ping(), exited]), START_TIMEOUT_MS, `redis-server on port ${port} to answer PING`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    pubsubClients: async () => parseClientList(String(await probe.call("CLIENT", "LIST", "TYPE", "pubsub"))),
    stop,
  };
}
