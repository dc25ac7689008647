import type { Config } from "../config/schema.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../log.ts";
import type { HttpRequest, RequestUrl } from "../http/request.ts";
import { httpError, json, type Finish, type HttpAnswer } from "../http/responses.ts";
import { ROUTE_METHODS, type Route } from "../http/routes.ts";
import type { HandlerErrors } from "../metrics/handler-errors.ts";
import type { HttpCounters } from "../metrics/http-counters.ts";
import type { OpenFilesGuard } from "./open-files-guard.ts";

export type MonitoringRoute = Extract<Route, { name: "metrics" | "dashboard" | "dashboard_data" }>;
export type ApiRoute = Exclude<Route, MonitoringRoute | { name: "health" | "websocket" }>;

/** What every transport is given: the same core, API and counters whichever runtime carries them. */
export interface TransportOptions {
  config: Config;
  hub: Hub;
  log: Logger;
  /** Counts its answers and hands each to `finish`. */
  handleApi: <R>(route: ApiRoute, request: HttpRequest, url: RequestUrl, finish: Finish<R>) => Promise<R>;
  /** As `answerHttp`: a promise is counted and finished by the handler, a plain answer by the transport. */
  handleMonitoring: <R>(route: MonitoringRoute["name"], request: HttpRequest, url: RequestUrl, finish: Finish<R>) => HttpAnswer | Promise<R>;
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

/** A listening transport, as `server.ts` drives it (Bun's `Server` is one as it is). */
export interface TransportServer {
  readonly port: number | undefined;
  /** `false`: stop accepting, keep what is open; `true`: close everything too. */
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

export type Serve = (options: TransportOptions) => TransportServer;

/**
 * What every transport answers the same way before the WebSocket upgrade: 404, 405, `/up`,
 * monitoring and the API. A plain answer is the transport's to count and finish; a promise was
 * counted and finished by its handler. Null: the route is the WebSocket endpoint, which each
 * transport upgrades (or refuses) in its own way.
 */
export function answerHttp<R>(
  route: Route | null,
  request: HttpRequest,
  url: RequestUrl,
  { handleApi, handleMonitoring }: Pick<TransportOptions, "handleApi" | "handleMonitoring">,
  finish: Finish<R>,
): HttpAnswer | Promise<R> | null {
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
      return handleMonitoring(route.name, request, url, finish);
    case "websocket":
      return null;
  }
  return handleApi(route, request, url, finish);
}
