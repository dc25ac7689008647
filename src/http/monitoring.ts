import { readFileSync } from "node:fs";
import type { Hub } from "../core/hub.ts";
import type { HandlerErrors } from "../metrics/handler-errors.ts";
import type { HttpCounters } from "../metrics/http-counters.ts";
import { renderPrometheus } from "../metrics/prometheus.ts";
import { takeSnapshot } from "../metrics/snapshot.ts";
import type { TransportNumbers } from "../metrics/transport-numbers.ts";
import type { WebhookNumbers } from "../webhooks/webhooks.ts";
import { safeEqual } from "../protocol/signatures.ts";
import { httpError, json } from "./responses.ts";

export interface MonitoringOptions {
  hub: Hub;
  http: HttpCounters;
  errors: HandlerErrors;
  /** Null turns monitoring off: its routes answer 404. */
  token: string | null;
  startedAt: number;
  transport: () => TransportNumbers;
  webhooks?: () => WebhookNumbers[];
}

const DASHBOARD_HTML = readFileSync(new URL("../metrics/dashboard.html", import.meta.url), "utf8");

/** The bearer token from `Authorization`, or `?token=` for a browser opening the dashboard. */
function presentedToken(request: Request, url: URL): string {
  const header = request.headers.get("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7) : (url.searchParams.get("token") ?? "");
}

/** `/metrics` (Prometheus text), `/dashboard` (live page) and `/dashboard/data` (its JSON feed). */
export function createMonitoring(options: MonitoringOptions) {
  const { hub, http, errors, token, startedAt, transport, webhooks } = options;
  /** Snapshots are taken in slices; their answers are counted here, as the API counts its own. */
  async function answer(route: "metrics" | "dashboard_data"): Promise<Response> {
    const snapshot = await takeSnapshot(hub, startedAt);
    const response =
      route === "metrics"
        ? new Response(renderPrometheus(snapshot, http, errors, transport(), webhooks?.() ?? []), {
            headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-cache" },
          })
        : json(snapshot);
    http.record(route, response.status);
    return response;
  }

  return function handleMonitoring(route: "metrics" | "dashboard" | "dashboard_data", request: Request, url: URL): Response | Promise<Response> {
    if (token === null) return httpError(404, "Not found.");
    // The page holds no data, so it loads with any token and explains a wrong one itself.
    if (route === "dashboard") {
      return new Response(DASHBOARD_HTML, { headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" } });
    }
    if (!safeEqual(presentedToken(request, url), token)) return httpError(401, "Monitoring token missing or wrong.");
    return answer(route);
  };
}
