import type { BoxLink } from "../bus/box-bus.ts";
import { createShutdown, onSignals } from "../lifecycle/shutdown.ts";
import { createLogger } from "../log.ts";
import { startServer, type RunningServer } from "../server.ts";
import type { FromWorker, ToWorker } from "./messages.ts";

/**
 * One worker of `start --workers N`: a whole server on the shared port, started with the config
 * the primary loaded (so a generated development app is the same app in every worker).
 */
function tell(message: FromWorker): void {
  process.send!(message);
}

/** The box bus's side of IPC: envelopes to and from the other workers, through the primary. */
const boxLink: BoxLink = {
  send: (batch) => tell({ t: "bus", ...batch }),
  applied: (total) => tell({ t: "applied", total }),
  onDelivery: (listener) =>
    process.on("message", (message: ToWorker) => {
      if (message.t === "bus") listener(message);
    }),
};

process.once("message", (message: ToWorker) => {
  if (message.t !== "start") return;
  const { config, index } = message;
  const log = createLogger({ debug: config.server.debug, tag: `worker ${index}` });
  let server: RunningServer;
  const shutdown = createShutdown(() => server, log, config.server.shutdown_timeout);
  try {
    server = startServer(config, log, { onRestart: () => tell({ t: "restart" }), reusePort: true, boxLink, worker: index });
  } catch (error) {
    log.error(`Cannot listen on ${config.server.host}:${config.server.port}: ${(error as Error).message}`);
    process.exit(1);
  }
  tell({ t: "listening", port: server.port, node: server.hub.bus.nodeId });
  onSignals(shutdown);
  // An orphan serves nobody well: when the primary is gone, drain and go too.
  process.once("disconnect", () => shutdown("Primary gone"));
});
