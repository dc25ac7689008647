import { openLaravelDatabase } from "./laravel/database.ts";
import { PulseRecorder } from "./pulse/recorder.ts";
import type { Config } from "./config/schema.ts";
import { BoxBus, type BoxLink } from "./bus/box-bus.ts";
import { localBus, type Bus } from "./bus/bus.ts";
import { RedisBus } from "./bus/redis-bus.ts";
import { AppRegistry } from "./core/app-state.ts";
import { Hub } from "./core/hub.ts";
import { createApi } from "./http/api.ts";
import { createMonitoring } from "./http/monitoring.ts";
import { HandlerErrors } from "./metrics/handler-errors.ts";
import { memoryLimit } from "./lifecycle/memory.ts";
import { openFilesLimit, openFilesNow, openFilesReserve } from "./lifecycle/open-files.ts";
import { HttpCounters } from "./metrics/http-counters.ts";
import { CloseCode } from "./protocol/errors.ts";
import type { Logger } from "./log.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { serveWithBun } from "./transport/bun.ts";
import type { Serve } from "./transport/transport.ts";
import { Webhooks } from "./webhooks/webhooks.ts";
import { OpenFilesGuard } from "./transport/open-files-guard.ts";
import { OutboundBuffers, transportBufferLimit } from "./transport/outbound-buffers.ts";

export interface RunningServer {
  readonly hub: Hub;
  readonly port: number;
  /** `http[s]://host:port` plus the route prefix. */
  readonly url: string;
  /**
   * Stops accepting, closes every connection with 4200 (pusher-js reconnects at once, to another
   * node or to this one restarted), waits up to `timeoutMs` for them to go, then stops.
   */
  drain(reason: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerHooks {
  /** `reverb-uws restart` reached this node through the fleet. */
  onRestart?: () => void;
  /** Share the port with the other workers of the box (`start --workers N`). */
  reusePort?: boolean;
  /** A worker's line to the box's other workers: the fleet, when scaling (Redis) is off. */
  boxLink?: BoxLink;
  /** The worker's index in its box, for the `worker` label of `/metrics`. */
  worker?: number;
  /** The transport: Bun.serve unless given (uWebSockets.js on Node, see transport/runtime.ts). */
  serve?: Serve;
}

/** How often silent connections are looked at: often enough for the shortest `ping_interval`. */
function sweepPeriodMs(config: Config): number {
  const shortest = Math.min(...config.apps.map((app) => app.ping_interval));
  return Math.min(Math.max((shortest * 1000) / 2, 250), 30_000);
}

/**
 * How often outbound buffers are checked for slow consumers: one that stopped reading is closed
 * within two periods of passing its cap, holding the cap plus half a second of its events.
 */
const BUFFER_CHECK_MS = 250;

/**
 * Redis when scaling is on, whether or not the box runs workers: then every worker is a node of
 * the Redis fleet (one delivery path; see docs/production.md). Without Redis, the workers of a
 * box are a fleet of their own over IPC; a single process has no fleet.
 */
function chooseBus(config: Config, log: Logger, hooks: ServerHooks): Bus {
  const { scaling } = config.server;
  const onRestart = () => hooks.onRestart?.();
  if (scaling.enabled) return new RedisBus(scaling, log, onRestart);
  if (hooks.boxLink) return new BoxBus(hooks.boxLink, scaling, log, onRestart);
  return localBus;
}

/** Pulse's messages card, when `pulse.enabled`: each process writes its own counts. */
function startPulse(config: Config, hub: Hub, log: Logger): PulseRecorder | null {
  const { pulse, laravel } = config.server;
  if (!pulse.enabled) return null;
  const recorder = new PulseRecorder({ apps: hub.apps.all(), db: openLaravelDatabase(laravel, { connection: pulse.connection }), config: pulse, log });
  recorder.start();
  return recorder;
}

/** Wires the core, the HTTP API and the transport together and starts listening. */
export function startServer(config: Config, log: Logger, hooks: ServerHooks = {}): RunningServer {
  const { scaling } = config.server;
  const bus = chooseBus(config, log, hooks);
  // Built only when an app has receivers: without, the hub keeps its no-op hooks.
  const webhooks = config.apps.some((app) => app.webhooks.length > 0) ? new Webhooks({ apps: config.apps, delivery: config.server.webhooks, bus, log }) : null;
  const hub = new Hub({ apps: new AppRegistry(config.apps), log, bus, ...(webhooks ? { hooks: webhooks } : {}) });
  const http = new HttpCounters();
  const errors = new HandlerErrors();
  const handleApi = createApi({ hub, log, http, prefix: config.server.path, maxRequestSize: config.server.max_request_size });
  const limit = openFilesLimit();
  const openFiles = new OpenFilesGuard({
    limit,
    reserve: limit === null ? 0 : openFilesReserve(limit, config.server.max_open_files_reserve),
    baseline: openFilesNow() ?? 0,
    log,
  });
  const backpressureLimit = transportBufferLimit(config);
  const buffers = new OutboundBuffers({
    hub,
    log,
    totalBudget: config.server.max_buffered_bytes_total ?? Math.floor(memoryLimit() / 4),
    transportLimit: backpressureLimit,
    onClosing: () => openFiles.closing(),
  });
  const transport = () => ({
    openFiles: openFiles.limit === null ? null : { inUse: openFiles.inUse(), limit: openFiles.limit, reserve: openFiles.reserve },
    overCapacityRefusals: openFiles.refused,
    bufferedBytes: buffers.buffered,
    slowConsumersClosed: Object.fromEntries(buffers.closed),
  });
  const handleMonitoring = createMonitoring({ hub, http, errors, token: config.server.metrics_token, startedAt: Date.now(), transport, worker: hooks.worker ?? null, ...(webhooks ? { webhooks: () => webhooks.numbers() } : {}) });
  const serve = hooks.serve ?? serveWithBun;
  const server = serve({ config, hub, log, handleApi, handleMonitoring, http, errors, openFiles, backpressureLimit, reusePort: hooks.reusePort ?? false });
  const sweep = setInterval(() => hub.sweep(), sweepPeriodMs(config));
  const bufferCheck = setInterval(() => buffers.scan(), BUFFER_CHECK_MS);
  bus.start(hub);
  const pulse = startPulse(config, hub, log);
  const host = config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host;

  const openConnections = () => Object.values(hub.connectionCounts()).reduce((sum, count) => sum + count, 0);

  const running: RunningServer = {
    hub,
    port: server.port!,
    url: `${config.server.tls ? "https" : "http"}://${host}:${server.port}${config.server.path}`,
    async drain(reason, timeoutMs) {
      void server.stop(false);
      hub.closeAll(CloseCode.reconnectNow, reason);
      const deadline = Date.now() + timeoutMs;
      while (openConnections() > 0 && Date.now() < deadline) await sleep(20);
      // Webhooks made by the closes above are sent too, within what is left of the timeout.
      await webhooks?.drain(Math.max(deadline - Date.now(), 0));
      await running.stop();
    },
    async stop() {
      clearInterval(sweep);
      clearInterval(bufferCheck);
      await server.stop(true);
      await bus.stop();
      webhooks?.stop();
      await pulse?.stop();
    },
  };
  return running;
}
