/**
 * A load generator process. It owns sockets and counters and does what the runner asks over
 * IPC; it exits when the runner goes away, so a crashed run leaves no load behind.
 */
import type { Methods, MethodName, Reply, Request } from "../lib/protocol.ts";
import { churn } from "./churn.ts";
import { chatter } from "./chatter.ts";
import { Halt } from "./halt.ts";
import { httpLoad } from "./http-load.ts";
import { Metrics } from "./metrics.ts";
import { openSockets } from "./open.ts";
import { openPaused, resumePaused } from "./paused.ts";
import type { PausedReader } from "../../test/helpers/paused-reader.ts";
import { publish } from "./publish.ts";
import type { PusherSocket } from "./pusher-socket.ts";

const metrics = new Metrics();
const sockets: PusherSocket[] = [];
const paused: PausedReader[] = [];
const halt = new Halt();

type Handlers = { [M in MethodName]: (params: Methods[M]["params"]) => Promise<Methods[M]["result"]> };

const handlers: Handlers = {
  open: (params) => openSockets(params, metrics, sockets),
  mark: async () => {
    metrics.mark();
    return null;
  },
  snapshot: async () => metrics.snapshot(),
  publish: async (params) => {
    await publish(params, metrics, halt.token());
    return null;
  },
  http: async (params) => {
    await httpLoad(params, metrics, halt.token());
    return null;
  },
  chatter: async (params) => {
    await chatter(params, sockets, metrics);
    return null;
  },
  churn: async (params) => {
    await churn(params, sockets, metrics);
    return null;
  },
  halt: async () => {
    halt.halt();
    return null;
  },
  closeAll: async () => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const reader of paused.splice(0)) reader.close();
    return null;
  },
  openPaused: (params) => openPaused(params, paused),
  resumePaused: (params) => resumePaused(params, paused),
};

function reply(message: Reply): void {
  process.send!(message);
}

process.on("message", (message: unknown) => {
  const request = message as Request;
  const handler = handlers[request.method] as (params: unknown) => Promise<unknown>;
  handler(request.params).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (error: Error) => reply({ id: request.id, ok: false, error: error.stack ?? error.message }),
  );
});
process.on("disconnect", () => process.exit(0));
