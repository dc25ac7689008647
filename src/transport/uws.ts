import { STATUS_CODES } from "node:http";
import uWS from "uWebSockets.js";
import type { HttpRequest as UwsHttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from "uWebSockets.js";
import { Connection } from "../core/connection.ts";
import type { Socket } from "../core/socket.ts";
import { ERROR_FRAMES } from "../protocol/errors.ts";
import type { HttpRequest, RequestUrl } from "../http/request.ts";
import { matchRoute, type Route } from "../http/routes.ts";
import { httpError, type Finish, type HttpAnswer } from "../http/responses.ts";
import { OVER_CAPACITY, Refusal, admit, largestMessage, type SocketData } from "./admission.ts";
import { answerHttp, type TransportOptions, type TransportServer } from "./transport.ts";
import { hostPasses, readHead, type UwsRequest } from "./uws-request.ts";

/**
 * The core's `Socket` over a uWebSockets.js socket. uWS.js throws on any call to a socket after its
 * close handler ran, where Bun ignores it; the core may still hold a closed socket for a moment
 * (a sweep, a fan-out of leaves), so every call checks that it is still open.
 */
class UwsSocket implements Socket {
  /** Set by `open`, cleared by `close`. */
  ws: WebSocket<Holder> | null = null;

  constructor(
    readonly data: SocketData,
    private readonly app: TemplatedApp,
  ) {}

  send(frame: string): number {
    return this.ws === null ? 2 : this.ws.send(frame, false);
  }

  subscribe(topic: string): boolean {
    return this.ws !== null && this.ws.subscribe(topic);
  }

  unsubscribe(topic: string): boolean {
    return this.ws !== null && this.ws.unsubscribe(topic);
  }

  /**
   * uWS publishes from a socket only if it is subscribed to the topic; one that is not (a client
   * event in `accept_client_events_from: all`) has nothing to be excluded from, so the app sends.
   */
  publish(topic: string, frame: string): boolean {
    if (this.ws === null) return false;
    return this.ws.isSubscribed(topic) ? this.ws.publish(topic, frame, false) : this.app.publish(topic, frame, false);
  }

  ping(): void {
    this.ws?.ping();
  }

  close(code?: number, reason?: string): void {
    this.ws?.end(code, reason);
  }

  terminate(): void {
    this.ws?.close();
  }

  getBufferedAmount(): number {
    return this.ws === null ? 0 : this.ws.getBufferedAmount();
  }
}

/**
 * uWS.js copies the user data's own properties onto its socket object (and `getUserData()` returns
 * that socket), so our socket travels as a property: given as the user data itself, its methods
 * would be lost and the native ones (`close` = drop the TCP connection) called instead.
 */
interface Holder {
  socket: UwsSocket;
}

/**
 * The uWebSockets.js transport for Node: the same routes, refusals, limits and callbacks as
 * `transport/bun.ts`, on one `uWS.App` (or `SSLApp`) with uWS's native pub/sub.
 */
export function serveWithUws(options: TransportOptions): TransportServer {
  const { config, hub, log, http, errors, openFiles, reusePort } = options;
  const { server: settings } = config;
  // Far oversized bodies are refused before they are buffered, as Bun's maxRequestBodySize does;
  // the API's own check (413 with a log line) covers the rest.
  const maxBody = Math.max(settings.max_request_size, 1024) * 2;
  const { tls } = settings;
  const app: TemplatedApp = tls
    ? uWS.SSLApp({
        cert_file_name: tls.cert,
        key_file_name: tls.key,
        ...(tls.ca ? { ca_file_name: tls.ca } : {}),
        ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
      })
    : uWS.App();

  /** The answer to one request, as Bun's transport gives it; on the websocket route, one that did not upgrade. */
  function answer<R>(route: Route | null, request: HttpRequest, url: RequestUrl, finish: Finish<R>): HttpAnswer | Promise<R> {
    return answerHttp(route, request, url, options, finish) ?? httpError(426, "Upgrade to WebSocket expected.", { Upgrade: "websocket" });
  }

  function failed(error: unknown): HttpAnswer {
    errors.http++;
    log.error(`HTTP handler failed: ${(error as Error).stack ?? String(error)}`);
    return httpError(500, "Internal server error.");
  }

  function unwritten(error: unknown): void {
    errors.http++;
    log.error(`HTTP response could not be written: ${(error as Error).stack ?? String(error)}`);
  }

  /** Writes `answer` unless the client went away meanwhile. Never throws or rejects: Node would exit on it. */
  function reply(res: HttpResponse, answer: HttpAnswer, closeAfter = false): void {
    const { body } = answer;
    if (typeof body === "string") return write(res, answer, body, closeAfter);
    body.arrayBuffer().then((bytes) => write(res, answer, bytes, closeAfter), unwritten);
  }

  function write(res: HttpResponse, answer: HttpAnswer, body: string | ArrayBuffer, closeAfter: boolean): void {
    if (res.aborted) return;
    try {
      res.cork(() => {
        res.writeStatus(`${answer.status} ${STATUS_CODES[answer.status] ?? ""}`);
        for (const name in answer.headers) res.writeHeader(name, answer.headers[name]!);
        // uWS writes Content-Length itself from what end() is given.
        res.end(body, closeAfter);
      });
    } catch (error) {
      unwritten(error);
    }
  }

  /** Runs `answer` for a request whose head and body have been read. */
  function respond(res: HttpResponse, request: UwsRequest): void {
    const route = matchRoute(request.url.pathname, settings.path);
    let answered: HttpAnswer | Promise<void>;
    try {
      answered = answer(route, request, request.url, (late) => reply(res, late));
    } catch (error) {
      answered = failed(error);
    }
    // Counted and written by its handler; only a failure is left to answer here.
    if (answered instanceof Promise) {
      answered.catch((error: unknown) => reply(res, failed(error)));
      return;
    }
    http.record(route?.name ?? "unmatched", answered.status);
    reply(res, answered);
  }

  function serveHttp(res: HttpResponse, req: UwsHttpRequest): void {
    const host = req.getHeader("host");
    // Answered as Bun's error handler answers the throw there; the body is left unread, as Bun leaves it.
    if (!hostPasses(host)) return reply(res, failed(new TypeError(`Host ${JSON.stringify(host)} is not a valid host.`)));
    const request = readHead(req);
    res.onAborted(() => {
      res.aborted = true;
    });
    if (request.method === "GET" || request.method === "HEAD") return respond(res, request);
    const chunks: Uint8Array[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size < 0) return;
      size += chunk.byteLength;
      if (size > maxBody) {
        size = -1;
        http.record(matchRoute(request.url.pathname, settings.path)?.name ?? "unmatched", 413);
        reply(res, httpError(413, "Payload too large."), true);
        return;
      }
      // uWS reuses the chunk's memory once this returns. Node's pooled Buffer copies at a fraction
      // of ArrayBuffer.slice's cost.
      const copy = Buffer.allocUnsafe(chunk.byteLength);
      copy.set(new Uint8Array(chunk));
      chunks.push(copy);
      if (!isLast) return;
      request.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      respond(res, request);
    });
  }

  function upgrade(res: HttpResponse, req: UwsHttpRequest, context: us_socket_context_t): void {
    const route = matchRoute(req.getUrl(), settings.path);
    if (route?.name !== "websocket" || !hostPasses(req.getHeader("host"))) return serveHttp(res, req);
    const data = openFiles.full() ? OVER_CAPACITY : admit(hub, route.appKey, () => req.getHeader("origin") || null);
    http.record("websocket", 101);
    res.upgrade<Holder>({ socket: new UwsSocket(data, app) }, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context);
  }

  /** As Bun's `websocket.error`: count, log, and tell the client its frame was not understood. */
  function websocketFailed(error: unknown, socket: UwsSocket): void {
    errors.websocket++;
    const id = socket.data instanceof Connection ? socket.data.socketId : "refused socket";
    log.error(`WebSocket handler failed for ${id}: ${(error as Error).stack ?? String(error)}`);
    socket.send(ERROR_FRAMES.invalidMessage);
  }

  app.ws<Holder>("/*", {
    maxPayloadLength: largestMessage(config),
    // Liveness is the hub's sweep, per app; uWS's single server-wide timer cannot express that.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    compression: uWS.DISABLED,
    maxBackpressure: options.backpressureLimit,
    // uWS would cut the socket with no close code, no log line and no count: outbound-buffers.ts
    // closes slow consumers itself, and past this limit uWS only stops queueing for them.
    closeOnBackpressureLimit: 0,
    upgrade,

    open(ws) {
      openFiles.opened();
      const socket = ws.getUserData().socket;
      socket.ws = ws;
      const data = socket.data;
      try {
        if (data instanceof Refusal) {
          // Over capacity is logged once per burst, by the guard.
          if (data.error === "overCapacity") openFiles.refusedOne();
          else log.warn(`WebSocket refused: ${data.detail}`);
          hub.refuse(socket, data.error);
          return;
        }
        data.socket = socket;
        hub.open(data);
      } catch (error) {
        websocketFailed(error, socket);
      }
    },
    message(ws, message) {
      const socket = ws.getUserData().socket;
      if (!(socket.data instanceof Connection)) return;
      try {
        hub.message(socket.data, Buffer.from(message).toString("utf8"));
      } catch (error) {
        websocketFailed(error, socket);
      }
    },
    ping(ws) {
      const data = ws.getUserData().socket.data;
      if (data instanceof Connection) hub.control(data);
    },
    pong(ws) {
      const data = ws.getUserData().socket.data;
      if (data instanceof Connection) hub.control(data);
    },
    close(ws) {
      openFiles.closed();
      const socket = ws.getUserData().socket;
      socket.ws = null;
      if (!(socket.data instanceof Connection)) return;
      try {
        hub.close(socket.data);
      } catch (error) {
        errors.websocket++;
        log.error(`WebSocket handler failed for ${socket.data.socketId}: ${(error as Error).stack ?? String(error)}`);
      }
    },
  });
  app.any("/*", serveHttp);

  let listening: us_listen_socket | null = null;
  // uWS.js takes (host, port, options, callback) and exports the option flags, which its typings
  // leave out. The callback runs at once. Without reusePort the port is this process's alone, as with Bun.
  const listen = app.listen as unknown as (host: string, port: number, options: number, done: (socket: us_listen_socket | false) => void) => void;
  listen.call(app, settings.host, settings.port, reusePort ? 0 : (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
    listening = socket || null;
  });
  if (listening === null) throw new Error(`Failed to start server. Is port ${settings.port} in use?`);
  const port = uWS.us_socket_local_port(listening);
  hub.attach({ publish: (topic, frame) => app.publish(topic, frame, false) });

  return {
    port,
    stop(closeActiveConnections = false) {
      if (listening !== null) uWS.us_listen_socket_close(listening);
      listening = null;
      if (closeActiveConnections) (app as TemplatedApp & { close(): void }).close();
    },
  };
}
