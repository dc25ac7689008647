import type { WebhookNumbers } from "../webhooks/webhooks.ts";
import type { MetricsReport } from "./report.ts";
import type { Snapshot } from "./snapshot.ts";

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * The Prometheus text exposition (format 0.0.4) of a report: this server's numbers, or a box's
 * totals, with each worker's own report in `workers` for the `worker`-labelled families.
 */
export function renderPrometheus(report: MetricsReport, workers: MetricsReport[]): string {
  const { snapshot, http, errors, transport, webhooks } = report;
  const lines: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string, samples: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const perApp = (pick: (app: Snapshot["apps"][number]) => number): Array<[string, number]> =>
    snapshot.apps.map((app) => [`{app="${label(app.id)}"}`, pick(app)]);

  family("reverb_connections", "gauge", "Open WebSocket connections.", perApp((app) => app.connections));
  family("reverb_subscribed_connections", "gauge", "Connections subscribed to at least one channel.", perApp((app) => app.subscribedConnections));
  family("reverb_channels", "gauge", "Channels with at least one subscriber on this node.", perApp((app) => app.channels));
  family("reverb_subscriptions", "gauge", "Channel subscriptions on this node.", perApp((app) => app.subscriptions));
  family("reverb_presence_members", "gauge", "Distinct presence members across the fleet, summed over channels.", perApp((app) => app.presenceMembers));
  family("reverb_signed_in_users", "gauge", "Users signed in (pusher:signin) anywhere in the fleet.", perApp((app) => app.signedInUsers));
  family("reverb_messages_received_total", "counter", "WebSocket messages received from clients.", perApp((app) => app.messagesReceived));
  family("reverb_messages_sent_total", "counter", "WebSocket messages sent to clients.", perApp((app) => app.messagesSent));
  family(
    "reverb_http_requests_total",
    "counter",
    "HTTP requests answered, by route and status.",
    http.map(({ route, status, count }) => [`{route="${label(route)}",status="${status}"}`, count]),
  );
  family("reverb_handler_errors_total", "counter", "Exceptions that escaped a WebSocket or HTTP handler (each is logged as an ERROR).", [
    ['{where="websocket"}', errors.websocket],
    ['{where="http"}', errors.http],
  ]);
  family(
    "reverb_slow_consumers_closed_total",
    "counter",
    "Sockets closed with 4100 for falling behind on what they were sent: past the app's max_buffered_bytes (limit=socket) or the largest while all together were past max_buffered_bytes_total (limit=server).",
    snapshot.apps.flatMap((app) => {
      const closed = transport.slowConsumersClosed[app.id];
      return (["socket", "server"] as const).map((limit): [string, number] => [`{app="${label(app.id)}",limit="${limit}"}`, closed?.[limit] ?? 0]);
    }),
  );
  family("reverb_outbound_buffered_bytes", "gauge", "Bytes waiting to be sent to clients that read slower than they are sent to, all sockets together.", [
    ["", transport.bufferedBytes],
  ]);
  family("reverb_over_capacity_refusals_total", "counter", "WebSocket connections refused with 4100 because the open-files reserve was reached.", [
    ["", transport.overCapacityRefusals],
  ]);
  if (transport.openFiles) {
    family("reverb_open_files", "gauge", "Open files in use as the server counts them: its own at start, WebSockets, and slow consumers still closing.", [["", transport.openFiles.inUse]]);
    family("reverb_open_files_limit", "gauge", "The process's open-files limit (ulimit -n).", [["", transport.openFiles.limit]]);
    family("reverb_open_files_reserve", "gauge", "Open files kept free below the limit; WebSockets past it are refused with 4100.", [["", transport.openFiles.reserve]]);
  }
  if (webhooks.length > 0) {
    const perHookedApp = (pick: (numbers: WebhookNumbers) => number): Array<[string, number]> =>
      webhooks.map((numbers) => [`{app="${label(numbers.app)}"}`, pick(numbers)]);
    family("reverb_webhooks_sent_total", "counter", "Webhook events delivered (a batch counts its events).", perHookedApp((n) => n.sent));
    family("reverb_webhooks_failed_total", "counter", "Webhook events given up on: refused with a 4xx, or still failing when the retry window closed.", perHookedApp((n) => n.failed));
    family("reverb_webhooks_retried_total", "counter", "Webhook requests repeated after a network error, a timeout, 408, 429 or 5xx.", perHookedApp((n) => n.retried));
    family("reverb_webhooks_dropped_total", "counter", "Webhook events dropped because the app's queue held max_queue events.", perHookedApp((n) => n.dropped));
    family("reverb_webhooks_queued", "gauge", "Webhook events queued or in flight.", perHookedApp((n) => n.queued));
  }
  family("reverb_uptime_seconds", "gauge", "Seconds since the server started.", [["", snapshot.uptimeSeconds]]);
  if (workers.length > 0) {
    const byWorker = (pick: (worker: MetricsReport) => number): Array<[string, number]> => workers.map((worker) => [`{worker="${worker.worker}"}`, pick(worker)]);
    family("reverb_workers", "gauge", "Worker processes of this box that answered this scrape (the totals above are theirs).", [["", workers.length]]);
    family("reverb_worker_connections", "gauge", "Open WebSocket connections per worker, all apps.", byWorker((worker) => worker.snapshot.apps.reduce((sum, app) => sum + app.connections, 0)));
    family("reverb_worker_open_files", "gauge", "Open files in use per worker (each worker has its own limit).", byWorker((worker) => worker.transport.openFiles?.inUse ?? 0));
    if (report.snapshot.bus?.kind === "box") {
      family(
        "reverb_worker_bus_skipped_total",
      "counter",
      "Events of the other workers the primary did not send this worker: nobody here was on their channel (counted when the worker's next envelope arrives).",
        byWorker((worker) => worker.snapshot.bus?.skippedTotal ?? 0),
      );
    }
  }
  const bus = snapshot.bus;
  if (bus?.kind === "redis") {
    family("reverb_bus_connected", "gauge", "Redis connections up (1) or down (0).", [
      ['{connection="publisher"}', bus.publisherConnected ? 1 : 0],
      ['{connection="subscriber"}', bus.subscriberConnected ? 1 : 0],
    ]);
    family("reverb_bus_buffered", "gauge", "Envelopes waiting for Redis to come back.", [["", bus.buffered]]);
  }
  if (bus) {
    family("reverb_bus_peers", "gauge", "Other nodes (or, in a box, other workers) heard from.", [["", bus.peers]]);
    family("reverb_bus_dropped_total", "counter", "Envelopes dropped: outgoing ones past max_buffered or older than max_buffered_age while Redis was away or stalled, incoming ones past max_backlog while the socket loop was behind (in a box: all workers').", [["", bus.droppedTotal]]);
    if (bus.skippedTotal !== undefined) {
      family("reverb_bus_skipped_total", "counter", "Events a worker of this box never had to decode: the primary sends a channel's events only to workers with a subscriber on it (all workers').", [
        ["", bus.skippedTotal],
      ]);
    }
    family("reverb_bus_lag_seconds", "gauge", "Largest heartbeat delay from a peer.", [["", bus.lagMs / 1000]]);
    family("reverb_bus_backlog_seconds", "gauge", "Largest recent wait between the Redis subscriber hearing messages and the socket loop applying them.", [
      ["", bus.backlogMs / 1000],
    ]);
  }
  return `${lines.join("\n")}\n`;
}
