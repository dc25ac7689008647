import { defineCommand, runMain } from "citty";
import { loadConfig } from "./config/load.ts";
import { createLogger } from "./log.ts";
import { startServer } from "./server.ts";

const start = defineCommand({
  meta: { name: "start", description: "Start the WebSocket server" },
  args: {
    host: { type: "string", description: "Address to bind (REVERB_SERVER_HOST, default 0.0.0.0)" },
    port: { type: "string", description: "Port to listen on (REVERB_SERVER_PORT, default 8080)" },
    path: { type: "string", description: "Route prefix for every route (REVERB_SERVER_PATH)" },
    hostname: { type: "string", description: "Public hostname shown in the banner (REVERB_HOST)" },
    config: { type: "string", description: "A JSON or TS config file with an `apps` list" },
    debug: { type: "boolean", description: "Log every connection and frame" },
  },
  async run({ args }) {
    const loaded = await loadConfig({
      cwd: process.cwd(),
      env: process.env,
      configPath: args.config,
      overrides: { host: args.host, port: args.port, path: args.path, hostname: args.hostname, debug: args.debug || undefined },
    });
    if (!loaded.ok) {
      for (const error of loaded.errors) process.stderr.write(`Invalid configuration: ${error}\n`);
      process.exit(1);
    }
    const { config } = loaded;
    const log = createLogger({ debug: config.server.debug });
    if (loaded.generatedApp) {
      const app = config.apps[0]!;
      log.info(`No app configured (REVERB_APP_ID, REVERB_APP_KEY, REVERB_APP_SECRET): using a development app`);
      log.info(`  app id ${app.app_id}  key ${app.key}  secret ${app.secret}`);
    }

    let server;
    try {
      server = startServer(config, log);
    } catch (error) {
      log.error(`Cannot listen on ${config.server.host}:${config.server.port}: ${(error as Error).message}`);
      process.exit(1);
    }
    const { host, path, hostname } = config.server;
    log.info(`Starting server on ${host}:${server.port}${path}${hostname ? ` (${hostname})` : ""}`);
    for (const app of config.apps) log.info(`App ${app.app_id}: ws://${hostname ?? host}:${server.port}${path}/app/${app.key}`);

    const shutdown = async (signal: string) => {
      log.info(`${signal}: gracefully terminating connections`);
      server.hub.closeAll(4200, "Server shutting down");
      await server.stop();
      process.exit(0);
    };
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
  },
});

const main = defineCommand({
  meta: { name: "reverb-uws", description: "A Pusher-protocol WebSocket server, drop-in for Laravel Reverb" },
  subCommands: { start },
});

void runMain(main);
