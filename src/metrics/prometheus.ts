import type { HttpCounters } from "./http-counters.ts";
import type { Snapshot } from "./snapshot.ts";

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The Prometheus text exposition (format 0.0.4) of a snapshot and the HTTP counters. */
export function renderPrometheus(snapshot: Snapshot, http: HttpCounters): string {
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
  family("reverb_messages_received_total", "counter", "WebSocket messages received from clients.", perApp((app) => app.messagesReceived));
  family("reverb_messages_sent_total", "counter", "WebSocket messages sent to clients.", perApp((app) => app.messagesSent));
  family(
    "reverb_http_requests_total",
    "counter",
    "HTTP requests answered, by route and status.",
    [...http.entries()].map(({ route, status, count }) => [`{route="${label(route)}",status="${status}"}`, count]),
  );
  family("reverb_uptime_seconds", "gauge", "Seconds since the server started.", [["", snapshot.uptimeSeconds]]);
  const bus = snapshot.bus;
  if (bus) {
    family("reverb_bus_connected", "gauge", "Redis connections up (1) or down (0).", [
      ['{connection="publisher"}', bus.publisherConnected ? 1 : 0],
      ['{connection="subscriber"}', bus.subscriberConnected ? 1 : 0],
    ]);
    family("reverb_bus_peers", "gauge", "Other nodes heard from.", [["", bus.peers]]);
    family("reverb_bus_buffered", "gauge", "Envelopes waiting for Redis to come back.", [["", bus.buffered]]);
    family("reverb_bus_dropped_total", "counter", "Envelopes dropped: outgoing ones past max_buffered or older than max_buffered_age while Redis was away or stalled, incoming ones past max_backlog while the socket loop was behind.", [["", bus.droppedTotal]]);
    family("reverb_bus_lag_seconds", "gauge", "Largest heartbeat delay from a peer.", [["", bus.lagMs / 1000]]);
    family("reverb_bus_backlog_seconds", "gauge", "Largest recent wait between the Redis subscriber hearing messages and the socket loop applying them.", [
      ["", bus.backlogMs / 1000],
    ]);
  }
  return `${lines.join("\n")}\n`;
}
