import * as v from "valibot";
import { ConfigSchema, type Config } from "../../src/config/schema.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { startServer, type RunningServer } from "../../src/server.ts";

export const APP = { app_id: "123456", key: "reverb-key", secret: "reverb-secret" } as const;

export interface TestServer extends RunningServer {
  readonly config: Config;
  /** `ws://127.0.0.1:port[/prefix]/app/{key}` */
  wsUrl(key?: string): string;
}

type ConfigInput = v.InferInput<typeof ConfigSchema>;

/**
 * A real server on an ephemeral loopback port; apps default to the one Reverb's tests use. Its log
 * is dropped unless a test passes a logger to read it.
 */
export function startTestServer(input: Partial<ConfigInput> = {}, log: Logger = createLogger({ debug: false, quiet: true })): TestServer {
  const config = v.parse(ConfigSchema, {
    apps: input.apps ?? [{ ...APP, accept_client_events_from: "members" }],
    server: { host: "127.0.0.1", port: 0, ...input.server },
  });
  const running = startServer(config, log);
  return {
    ...running,
    config,
    wsUrl: (key = config.apps[0]!.key) => `ws://127.0.0.1:${running.port}${config.server.path}/app/${key}`,
  };
}
