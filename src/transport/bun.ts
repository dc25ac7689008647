import type { Server, ServerWebSocket } from "bun";
import type { Config } from "../config/schema.ts";
import { Connection } from "../core/connection.ts";
import type { Hub } from "../core/hub.ts";
import { ERROR_FRAMES, type PusherErrorName } from "../protocol/errors.ts";
import { newSocketId } from "../protocol/socket-id.ts";
import type { Logger } from "../log.ts";
import { ROUTE_METHODS, matchRoute, type Route } from "../http/routes.ts";
import { httpError, json } from "../http/responses.ts";
import type { HandlerErrors } from "../metrics/handler-errors.ts";
import type { HttpCounters } from "../metrics/http-counters.ts";
import type { OpenFilesGuard } from "./open-files-guard.ts";

/** A socket refused before it could become a connection; the reason is sent once it opens. */
class Refusal {
  constructor(
    readonly error: PusherErrorName,
    /** For the log line. */
    readonly detail: string,
  ) {}
}

type SocketData = Connection | Refusal;

/** Shared by every socket refused for want of open files: a burst of them allocates nothing more. */
const OVER_CAPACITY = new Refusal("overCapacity", "open-files reserve reached");

/** uWS's own cap for one message when an app sets no limit (`max_message_size: 0`). */
const UNLIMITED_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface BunTransportOptions {
  config: Config;
  hub: Hub;
  log: Logger;
  handleApi: (route: ApiRoute, request: Request, url: URL) => Promise<Response>;
  handleMonitoring: (route: MonitoringRoute["name"], request: Request, url: URL) => Response | Promise<Response>;
  http: HttpCounters;
  errors: HandlerErrors;
  openFiles: OpenFilesGuard;
  /**
   * Bytes uWS queues for one socket before it drops what is published to it. Slow consumers are
   * closed below it (outbound-buffers.ts); this bounds what one can take between two checks.
   */
  backpressureLimit: number;
  reusePort: boolean;
}

type MonitoringRoute = Extract<Route, { name: "metrics" | "dashboard" | "dashboard_data" }>;
type ApiRoute = Exclude<Route, MonitoringRoute | { name: "health" | "websocket" }>;

/** The only code that touches Bun.serve: routing, upgrade, and the WebSocket callbacks. */
export function serveWithBun(options: BunTransportOptions): Server<SocketData> {
  const { config, hub, log, handleApi, handleMonitoring, http, errors, openFiles, reusePort } = options;
  const { server: settings } = config;
  // Headroom above the largest app limit: a message slightly over its app's limit reaches the hub,
  // which closes with the spec's reason; only far larger ones are cut by uWS before buffering.
  const largestMessage = Math.max(...config.apps.map((app) => app.max_message_size || UNLIMITED_MESSAGE_BYTES)) + 64 * 1024;

  /** The response for one request; undefined once it became a WebSocket. */
  function answer(route: Route | null, request: Request, url: URL, server: Server<SocketData>): Response | Promise<Response> | undefined {
    if (!route) return httpError(404, "Not found.");
    if (request.method !== ROUTE_METHODS[route.name]) {
      return httpError(405, "Method not allowed.", { Allow: ROUTE_METHODS[route.name] });
    }
    switch (route.name) {
      case "health":
        return json({ health: "OK" });
      case "metrics":
      case "dashboard":
      case "dashboard_data":
        return handleMonitoring(route.name, request, url);
    }
    if (route.name !== "websocket") return handleApi(route, request, url);

    if (server.upgrade(request, { data: openFiles.full() ? OVER_CAPACITY : admit(route.appKey, request) })) return undefined;
    return httpError(426, "Upgrade to WebSocket expected.", { Upgrade: "websocket" });
  }

  /** The new socket's connection, or why it is refused. */
  function admit(appKey: string, request: Request): SocketData {
    // Headers are read only for an origin check: materialising them is the costliest step here.
    const app = hub.apps.findByKey(appKey);
    const origin = app?.originCheck ? request.headers.get("origin") : null;
    if (!app) return new Refusal("appNotFound", `unknown app key ${appKey}`);
    if (app.originCheck && !app.originCheck(origin)) return new Refusal("originNotAllowed", `origin ${origin} not allowed for app ${app.id}`);
    return new Connection(newSocketId(), app, Date.now());
  }

  const server = Bun.serve<SocketData>({
    hostname: settings.host,
    port: settings.port,
    reusePort,
    // Far oversized bodies are refused by Bun before they are read; the API's own check (413
    // with a log line) covers the rest.
    maxRequestBodySize: Math.max(settings.max_request_size, 1024) * 2,
    tls: settings.tls
      ? {
          cert: Bun.file(settings.tls.cert),
          key: Bun.file(settings.tls.key),
          ca: settings.tls.ca ? Bun.file(settings.tls.ca) : undefined,
          passphrase: settings.tls.passphrase ?? undefined,
        }
      : undefined,

    fetch(request, server) {
      const url = new URL(request.url);
      const route = matchRoute(url.pathname, settings.path);
      const name = route?.name ?? "unmatched";
      const response = answer(route, request, url, server);
      if (response === undefined) {
        http.record(name, 101);
        return undefined;
      }
      // The API counts its own answers: no promise chained per request here.
      if (response instanceof Response) http.record(name, response.status);
      return response;
    },

    websocket: {
      maxPayloadLength: largestMessage,
      // Liveness is the hub's sweep, per app; uWS's single server-wide timer cannot express that.
      idleTimeout: 0,
      sendPings: false,
      perMessageDeflate: false,
      backpressureLimit: options.backpressureLimit,
      // uWS would cut the socket with no close code, no log line and no count: outbound-buffers.ts
      // closes slow consumers itself, and past this limit uWS only stops queueing for them.
      closeOnBackpressureLimit: false,

      open(ws: ServerWebSocket<SocketData>) {
        openFiles.opened();
        const data = ws.data;
        if (data instanceof Refusal) {
          // Over capacity is logged once per burst, by the guard.
          if (data.error === "overCapacity") openFiles.refusedOne();
          else log.warn(`WebSocket refused: ${data.detail}`);
          hub.refuse(ws, data.error);
          return;
        }
        data.socket = ws;
        hub.open(data);
      },
      message(ws, message) {
        const data = ws.data;
        if (data instanceof Connection) hub.message(data, typeof message === "string" ? message : message.toString());
      },
      ping(ws) {
        if (ws.data instanceof Connection) hub.control(ws.data);
      },
      pong(ws) {
        if (ws.data instanceof Connection) hub.control(ws.data);
      },
      close(ws) {
        openFiles.closed();
        if (ws.data instanceof Connection) hub.close(ws.data);
      },
      error(error, ws) {
        errors.websocket++;
        const id = ws.data instanceof Connection ? ws.data.socketId : "refused socket";
        log.error(`WebSocket handler failed for ${id}: ${error.stack ?? error.message}`);
        ws.send(ERROR_FRAMES.invalidMessage);
      },
    },

    error(error) {
      errors.http++;
      log.error(`HTTP handler failed: ${error.stack ?? error.message}`);
      return httpError(500, "Internal server error.");
    },
  });
  hub.attach(server);
  return server;
}
