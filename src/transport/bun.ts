import type { Server, ServerWebSocket } from "bun";
import { Connection } from "../core/connection.ts";
import { ERROR_FRAMES } from "../protocol/errors.ts";
import { matchRoute, type Route } from "../http/routes.ts";
import { httpError, type HttpAnswer } from "../http/responses.ts";
import { OVER_CAPACITY, Refusal, admit, largestMessage, type SocketData } from "./admission.ts";
import { answerHttp, type TransportOptions } from "./transport.ts";

/** An answer is shaped as a `ResponseInit`, so it is one: no headers or body copied on the way. */
function toResponse(answer: HttpAnswer): Response {
  return new Response(answer.body, answer);
}

/** The only code that touches Bun.serve: routing, upgrade, and the WebSocket callbacks. */
export function serveWithBun(options: TransportOptions): Server<SocketData> {
  const { config, hub, log, http, errors, openFiles, reusePort } = options;
  const { server: settings } = config;

  /** The answer to one request; undefined once it became a WebSocket. */
  function answer(route: Route | null, request: Request, url: URL, server: Server<SocketData>): HttpAnswer | Promise<Response> | undefined {
    const answered = answerHttp(route, request, url, options, toResponse);
    if (answered !== null) return answered;
    // Null only for the WebSocket endpoint.
    const { appKey } = route as Extract<Route, { name: "websocket" }>;
    if (server.upgrade(request, { data: openFiles.full() ? OVER_CAPACITY : admit(hub, appKey, () => request.headers.get("origin")) })) return undefined;
    return httpError(426, "Upgrade to WebSocket expected.", { Upgrade: "websocket" });
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
      const answered = answer(route, request, url, server);
      if (answered === undefined) {
        http.record(name, 101);
        return undefined;
      }
      // Counted and made a Response by its handler: no promise chained per request here.
      if (answered instanceof Promise) return answered;
      http.record(name, answered.status);
      return toResponse(answered);
    },

    websocket: {
      maxPayloadLength: largestMessage(config),
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
      return toResponse(httpError(500, "Internal server error."));
    },
  });
  hub.attach(server);
  return server;
}
