import { defineCommand, runMain } from "citty";
import { loadConfig, type LoadOptions } from "./config/load.ts";
import { install } from "./install.ts";
import { capacityReport, openFilesLimit, openFilesNow } from "./lifecycle/open-files.ts";
import { registerRunning, runtimeDir } from "./lifecycle/runtime-files.ts";
import { createShutdown, onSignals, type Drainable } from "./lifecycle/shutdown.ts";
import type { Config } from "./config/schema.ts";
import { createLogger, type Logger } from "./log.ts";
import { openRestartKeyReader, restartPollWanted } from "./laravel/restart-key.ts";
import { startRestartPoll } from "./lifecycle/restart-poll.ts";
import { requestRestart } from "./restart.ts";
import { startServer } from "./server.ts";
import { runtimeTransport } from "./transport/runtime.ts";
import { startPrimary } from "./workers/primary.ts";

/** The configuration, or one line per problem on stderr and exit status 1. */
async function configOrExit(configPath: string | undefined, overrides: LoadOptions["overrides"] = {}, tls?: LoadOptions["tls"]) {
  const loaded = await loadConfig({ cwd: process.cwd(), env: process.env, configPath, overrides, tls });
  if (loaded.ok) return loaded;
  for (const error of loaded.errors) process.stderr.write(`Invalid configuration: ${error}\n`);
  process.exit(1);
}

const start = defineCommand({
  meta: { name: "start", description: "Start the WebSocket server" },
  args: {
    host: { type: "string", description: "Address to bind (REVERB_SERVER_HOST, default 0.0.0.0)" },
    port: { type: "string", description: "Port to listen on (REVERB_SERVER_PORT, default 8080)" },
    path: { type: "string", description: "Route prefix for every route (REVERB_SERVER_PATH)" },
    hostname: { type: "string", description: "Public hostname: shown in the banner; its Herd/Valet certificate is served if found (REVERB_HOST)" },
    tls: {
      type: "enum",
      options: ["auto", "off"],
      description: "auto: exit unless a Herd/Valet certificate for the hostname is found; off: never look for one",
    },
    config: { type: "string", description: "A JSON or TS config file with an `apps` list" },
    debug: { type: "boolean", description: "Log every connection and frame" },
    workers: { type: "string", description: "Processes sharing the port: a number, or auto for one per CPU (REVERB_WORKERS, default 1)" },
  },
  async run({ args }) {
    const loaded = await configOrExit(
      args.config,
      { host: args.host, port: args.port, path: args.path, hostname: args.hostname, debug: args.debug || undefined, workers: args.workers },
      args.tls as LoadOptions["tls"],
    );
    const { config } = loaded;
    const log = createLogger({ debug: config.server.debug });
    if (loaded.generatedApp) {
      const app = config.apps[0]!;
      log.info(`No app configured (REVERB_APP_ID, REVERB_APP_KEY, REVERB_APP_SECRET): using a development app`);
      log.info(`  app id ${app.app_id}  key ${app.key}  secret ${app.secret}`);
    }

    const { host, path, hostname, tls, workers } = config.server;
    let server: Drainable;
    let port: number;
    const shutdown = createShutdown(() => server, log, config.server.shutdown_timeout);
    const cannotListen = (error: unknown) => {
      // A certificate Bun cannot load fails here too, with only OpenSSL's words for it.
      const files = tls ? ` (TLS certificate ${tls.cert}, key ${tls.key})` : "";
      log.error(`Cannot listen on ${host}:${config.server.port}: ${(error as Error).message}${files}`);
      process.exit(1);
    };
    if (workers > 1 && !process.versions.bun) {
      log.error(`--workers ${workers} runs under Bun only: under Node run one process per port (uWebSockets.js), or start with bunx reverb-uws`);
      process.exit(1);
    }
    const serve = await runtimeTransport();
    if (workers > 1) {
      if (process.platform !== "linux") {
        log.error(`--workers ${workers} needs the kernel to spread one port's connections over processes (SO_REUSEPORT), which Bun does on Linux only: run one process per port here`);
        process.exit(1);
      }
      const primary = startPrimary(config, workers, log, () => shutdown("Restart requested"));
      server = primary;
      port = await primary.listening.catch(cannotListen);
    } else {
      try {
        const running = startServer(config, log, { onRestart: () => shutdown("Restart requested"), serve });
        server = running;
        port = running.port;
      } catch (error) {
        cannotListen(error);
      }
    }
    const box = workers > 1 ? ` with ${workers} workers` : "";
    log.info(`Starting ${tls ? "secure " : ""}server on ${host}:${port!}${path}${hostname ? ` (${hostname})` : ""}${box}`);
    if (tls) log.info(`TLS certificate ${tls.cert}, key ${tls.key}`);
    // Bound to every interface, the server is reachable on loopback: print an address that works.
    const reachable = hostname ?? (host === "0.0.0.0" ? "127.0.0.1" : host);
    for (const app of config.apps) log.info(`App ${app.app_id}: ${tls ? "wss" : "ws"}://${reachable}:${port!}${path}/app/${app.key}`);
    const capacity = capacityReport(config, openFilesLimit(), openFilesNow(), workers);
    for (const line of capacity.info) log.info(line);
    for (const line of capacity.warnings) log.warn(line);

    registerRunning(runtimeDir(process.env), { pid: process.pid, host, port: port! });
    onSignals(shutdown);
    pollRestartKey(config, log, (why) => shutdown(why));
  },
});

/** Reverb's interval for `reverb:restart`'s key. */
const RESTART_POLL_MS = 5_000;

/**
 * `php artisan reverb:restart` support: poll the Laravel cache key it writes, from the process
 * that owns the drain (the primary of a box of workers), so every node of a fleet restarts.
 */
function pollRestartKey(config: Config, log: Logger, shutdown: (why: string) => void): void {
  const { laravel, scaling } = config.server;
  if (!restartPollWanted(laravel)) return;
  let reader: ReturnType<typeof openRestartKeyReader>;
  try {
    reader = openRestartKeyReader(laravel, scaling.server);
  } catch (error) {
    // The database store on Node: Bun's SQL client is not there.
    log.warn(`reverb:restart's cache key will not be polled: ${(error as Error).message}`);
    return;
  }
  if (!reader) {
    log.error(`REVERB_RESTART_POLL is on but CACHE_STORE (or CACHE_DRIVER) is not database, redis or file: cannot read reverb:restart's key`);
    process.exit(1);
  }
  startRestartPoll({
    reader,
    log,
    intervalMs: RESTART_POLL_MS,
    startedAt: Math.floor(Date.now() / 1000),
    onRestart: (why) => shutdown(`Restart requested (${why})`),
  });
}

const restart = defineCommand({
  meta: { name: "restart", description: "Drain and stop every running server (the fleet too, with scaling on) so the process manager restarts it" },
  args: {
    config: { type: "string", description: "The config file the servers use (for Redis settings)" },
  },
  async run({ args }) {
    const { config } = await configOrExit(args.config);
    try {
      await requestRestart(config, runtimeDir(process.env), (line) => process.stdout.write(`${line}\n`));
    } catch (error) {
      process.stderr.write(`Restart failed: ${(error as Error).message}\n`);
      process.exit(1);
    }
  },
});

const main = defineCommand({
  meta: { name: "reverb-uws", description: "A Pusher-protocol WebSocket server, drop-in for Laravel Reverb" },
  subCommands: { start, restart, install },
});

void runMain(main);
