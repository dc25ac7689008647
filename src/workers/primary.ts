import type { Subprocess } from "bun";
import { encodeEnvelope } from "../bus/envelope.ts";
import type { Config } from "../config/schema.ts";
import type { Drainable } from "../lifecycle/shutdown.ts";
import type { Logger } from "../log.ts";
import { WORKER_ENV, type FromWorker, type ToWorker } from "./messages.ts";
import { Relay } from "./relay.ts";

const WORKER_ENTRY = new URL("./worker.ts", import.meta.url).pathname;

/** Back-off before restarting a worker that died: doubles from 100 ms to 10 s. */
function restartDelay(failures: number): number {
  return Math.min(100 * 2 ** Math.min(failures, 7), 10_000);
}

/** A worker that stayed up this long was healthy: its next death restarts it at once again. */
const HEALTHY_AFTER_MS = 30_000;

interface WorkerSlot {
  readonly index: number;
  process: Subprocess | null;
  /** The worker's bus node id, once it listens. */
  node: string | null;
  startedAt: number;
  failures: number;
}

export interface Primary extends Drainable {
  /** Resolves with the port once every worker listens. */
  readonly listening: Promise<number>;
}

/**
 * The primary of `start --workers N`: it serves nothing itself. It starts N worker processes that
 * listen on one port (reusePort: the kernel spreads new connections), restarts one that dies, and
 * owns the signals and restarts of the box.
 */
export function startPrimary(config: Config, count: number, log: Logger, onRestartRequested: () => void): Primary {
  const slots: WorkerSlot[] = Array.from({ length: count }, (_, index) => ({ index, process: null, node: null, startedAt: 0, failures: 0 }));
  let port = config.server.port;
  let stopping = false;
  let started = false;
  const ready = Promise.withResolvers<number>();
  const relay = new Relay(config.server.scaling.max_backlog, log);

  const spawn = (slot: WorkerSlot) => {
    slot.startedAt = Date.now();
    slot.node = null;
    const child = Bun.spawn([process.execPath, WORKER_ENTRY], {
      env: { ...process.env, [WORKER_ENV]: String(slot.index) },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      serialization: "json",
      // A dead worker's last words (its interest above all) must not be taken for its successor's.
      ipc: (message: FromWorker) => {
        if (slot.process === child) heard(slot, message);
      },
    });
    slot.process = child;
    relay.join(slot.index, child);
    const start: ToWorker = { t: "start", index: slot.index, config: { ...config, server: { ...config.server, port } } };
    child.send(start);
    void child.exited.then(() => exited(slot, child));
  };

  const heard = (slot: WorkerSlot, message: FromWorker) => {
    switch (message.t) {
      case "bus":
        return relay.batch(slot.index, message);
      case "applied":
        return relay.applied(slot.index, message.total);
      case "listening": {
        slot.node = message.node;
        relay.named(slot.index, message.node);
        if (started) log.info(`Worker ${slot.index} (pid ${slot.process?.pid}) is serving again`);
        if (port === 0) {
          // The first worker picked the port: the others share it.
          port = message.port;
          for (const other of slots) if (other.process === null) spawn(other);
        }
        if (!started && slots.every((other) => other.node !== null)) {
          started = true;
          ready.resolve(port);
        }
        return;
      }
      case "restart":
        return onRestartRequested();
    }
  };

  const exited = (slot: WorkerSlot, child: Subprocess) => {
    if (slot.process !== child) return;
    slot.process = null;
    relay.leave(slot.index);
    if (stopping) return;
    // No heartbeat timeout to wait for: the others drop its members now.
    if (slot.node !== null) relay.relay(null, [encodeEnvelope(slot.node, { t: "gone" })]);
    const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
    if (!started) {
      // A worker that cannot start (port taken, certificate unreadable) will not start on retry.
      stopping = true;
      for (const other of slots) other.process?.kill("SIGTERM");
      ready.reject(new Error(`worker ${slot.index} exited with ${how} before the box was listening`));
      return;
    }
    if (Date.now() - slot.startedAt >= HEALTHY_AFTER_MS) slot.failures = 0;
    const delay = restartDelay(slot.failures++);
    log.warn(`Worker ${slot.index} (pid ${child.pid}) exited with ${how}: restarting it in ${delay} ms`);
    setTimeout(() => {
      if (!stopping && slot.process === null) spawn(slot);
    }, delay);
  };

  // With a fixed port every worker starts at once; with port 0 the first one picks it.
  if (port === 0) spawn(slots[0]!);
  else for (const slot of slots) spawn(slot);

  return {
    listening: ready.promise,
    /** Every worker drains (4200 to its clients) within `timeoutMs`; one that hangs past it is killed. */
    async drain(_reason, timeoutMs) {
      stopping = true;
      const running = slots.map((slot) => slot.process).filter((child): child is Subprocess => child !== null);
      for (const child of running) child.kill("SIGTERM");
      const killer = setTimeout(() => {
        for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }, timeoutMs + 5_000);
      await Promise.all(running.map((child) => child.exited));
      clearTimeout(killer);
    },
  };
}
