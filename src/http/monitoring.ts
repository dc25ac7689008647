import { readFileSync } from "node:fs";
import type { HttpRequest, RequestUrl } from "./request.ts";
import type { Hub } from "../core/hub.ts";
import type { HandlerErrors } from "../metrics/handler-errors.ts";
import type { HttpCounters } from "../metrics/http-counters.ts";
import { renderPrometheus } from "../metrics/prometheus.ts";
import { buildReport, combineReports, type MetricsReport } from "../metrics/report.ts";
import { takeSnapshot } from "../metrics/snapshot.ts";
import type { TransportNumbers } from "../metrics/transport-numbers.ts";
import type { WebhookNumbers } from "../webhooks/webhooks.ts";
import { safeEqual } from "../protocol/signatures.ts";
import { httpError, json, type Finish, type HttpAnswer } from "./responses.ts";

export interface MonitoringOptions {
  hub: Hub;
  http: HttpCounters;
  errors: HandlerErrors;
  /** Null turns monitoring off: its routes answer 404. */
  token: string | null;
  startedAt: number;
  transport: () => TransportNumbers;
  /** This process's index in a box of workers; null when it runs alone. */
  worker: number | null;
  webhooks?: () => WebhookNumbers[];
}

const DASHBOARD: HttpAnswer = {
  status: 200,
  headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" },
  body: readFileSync(new URL("../metrics/dashboard.html", import.meta.url), "utf8"),
};
const PROMETHEUS_HEADERS = { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-cache" };

/** The bearer token from `Authorization`, or `?token=` for a browser opening the dashboard. */
function presentedToken(request: HttpRequest, url: RequestUrl): string {
  const header = request.headers.get("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7) : (url.searchParams.get("token") ?? "");
}

/** `/metrics` (Prometheus text), `/dashboard` (live page) and `/dashboard/data` (its JSON feed). */
export function createMonitoring(options: MonitoringOptions) {
  const { hub, http, errors, token, startedAt, transport, worker, webhooks } = options;
  const ownReport = async () => buildReport(worker, await takeSnapshot(hub, startedAt), http, errors, transport(), webhooks?.() ?? []);
  // In a box of workers, whichever worker is scraped asks the others for theirs.
  hub.bus.answerReports(ownReport);

  /**
   * A box's numbers: the workers' summed, except channels, which two workers may share: those are
   * counted once, by the fleet query the HTTP API uses.
   */
  async function boxReport(own: MetricsReport, others: MetricsReport[]): Promise<MetricsReport> {
    const report = combineReports(own, others);
    for (const app of report.snapshot.apps) {
      const state = hub.apps.findById(app.id);
      if (state) app.channels = (await hub.stats(state, null, null)).names.length;
    }
    return report;
  }

  /** Snapshots are taken in slices; their answers are counted here, as the API counts its own. */
  async function answer<R>(route: "metrics" | "dashboard_data", finish: Finish<R>): Promise<R> {
    const own = await ownReport();
    const others = (await hub.bus.gatherReports()) as MetricsReport[];
    const report = others.length > 0 ? await boxReport(own, others) : own;
    const answered =
      route === "metrics"
        ? { status: 200, headers: PROMETHEUS_HEADERS, body: renderPrometheus(report, worker === null ? [] : [own, ...others]) }
        : json(report.snapshot);
    http.record(route, answered.status);
    return finish(answered);
  }

  return function handleMonitoring<R>(route: "metrics" | "dashboard" | "dashboard_data", request: HttpRequest, url: RequestUrl, finish: Finish<R>): HttpAnswer | Promise<R> {
    if (token === null) return httpError(404, "Not found.");
    // The page holds no data, so it loads with any token and explains a wrong one itself.
    if (route === "dashboard") return DASHBOARD;
    if (!safeEqual(presentedToken(request, url), token)) return httpError(401, "Monitoring token missing or wrong.");
    return answer(route, finish);
  };
}
