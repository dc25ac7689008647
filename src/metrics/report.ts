import type { HandlerErrors } from "./handler-errors.ts";
import type { HttpCounters } from "./http-counters.ts";
import type { AppSnapshot, Snapshot } from "./snapshot.ts";
import { keepTop } from "./snapshot.ts";
import type { TransportNumbers } from "./transport-numbers.ts";
import type { WebhookNumbers } from "../webhooks/webhooks.ts";

/**
 * One process's monitoring numbers as plain data: what `/metrics` renders, and what a worker sends
 * the worker that was scraped, which answers for the whole box.
 */
export interface MetricsReport {
  /** The worker's index in a box of workers; null for a server that runs alone. */
  worker: number | null;
  snapshot: Snapshot;
  http: Array<{ route: string; status: number; count: number }>;
  errors: { websocket: number; http: number };
  transport: TransportNumbers;
  /** Per app with webhook receivers. */
  webhooks: WebhookNumbers[];
}

export function buildReport(
  worker: number | null,
  snapshot: Snapshot,
  http: HttpCounters,
  errors: HandlerErrors,
  transport: TransportNumbers,
  webhooks: WebhookNumbers[],
): MetricsReport {
  return { worker, snapshot, http: [...http.entries()], errors: { websocket: errors.websocket, http: errors.http }, transport, webhooks };
}

/** Each app's webhook numbers summed over the workers (queues and counters are per worker). */
function sumWebhooks(all: MetricsReport[]): WebhookNumbers[] {
  const byApp = new Map<string, WebhookNumbers>();
  for (const numbers of all.flatMap((report) => report.webhooks)) {
    const seen = byApp.get(numbers.app);
    byApp.set(
      numbers.app,
      seen
        ? { app: numbers.app, sent: seen.sent + numbers.sent, failed: seen.failed + numbers.failed, retried: seen.retried + numbers.retried, dropped: seen.dropped + numbers.dropped, queued: seen.queued + numbers.queued }
        : { ...numbers },
    );
  }
  return [...byApp.values()];
}

function sumApps(apps: AppSnapshot[]): AppSnapshot {
  const first = apps[0]!;
  const top: Array<{ name: string; subscribers: number }> = [];
  const subscribers = new Map<string, number>();
  for (const app of apps) for (const channel of app.topChannels) subscribers.set(channel.name, (subscribers.get(channel.name) ?? 0) + channel.subscribers);
  for (const [name, count] of subscribers) keepTop(top, { name, subscribers: count });
  const sum = (pick: (app: AppSnapshot) => number) => apps.reduce((total, app) => total + pick(app), 0);
  return {
    id: first.id,
    connections: sum((app) => app.connections),
    subscribedConnections: sum((app) => app.subscribedConnections),
    // A channel with subscribers on two workers counts twice here; the box's answer recounts them.
    channels: sum((app) => app.channels),
    subscriptions: sum((app) => app.subscriptions),
    // Rosters are box-wide already: every worker knows every member.
    presenceMembers: first.presenceMembers,
    signedInUsers: first.signedInUsers,
    messagesReceived: sum((app) => app.messagesReceived),
    messagesSent: sum((app) => app.messagesSent),
    topChannels: top,
  };
}

/** The box's numbers: this worker's report with every other worker's added in. */
export function combineReports(own: MetricsReport, others: MetricsReport[]): MetricsReport {
  const all = [own, ...others];
  const apps = own.snapshot.apps.map((app) => sumApps(all.flatMap((report) => report.snapshot.apps.filter((other) => other.id === app.id))));
  const http = new Map<string, { route: string; status: number; count: number }>();
  for (const entry of all.flatMap((report) => report.http)) {
    const key = `${entry.route} ${entry.status}`;
    const seen = http.get(key);
    if (seen) seen.count += entry.count;
    else http.set(key, { ...entry });
  }
  const slowConsumersClosed: TransportNumbers["slowConsumersClosed"] = {};
  for (const report of all) {
    for (const [app, closed] of Object.entries(report.transport.slowConsumersClosed)) {
      const total = (slowConsumersClosed[app] ??= { socket: 0, server: 0 });
      total.socket += closed.socket;
      total.server += closed.server;
    }
  }
  const files = all.map((report) => report.transport.openFiles);
  const openFiles = files.every((numbers) => numbers !== null)
    ? files.reduce((total, numbers) => ({ inUse: total.inUse + numbers!.inUse, limit: total.limit + numbers!.limit, reserve: total.reserve + numbers!.reserve }), { inUse: 0, limit: 0, reserve: 0 })
    : null;
  const sum = (pick: (report: MetricsReport) => number) => all.reduce((total, report) => total + pick(report), 0);
  const bus = own.snapshot.bus && {
    ...own.snapshot.bus,
    droppedTotal: sum((report) => report.snapshot.bus?.droppedTotal ?? 0),
    ...(own.snapshot.bus.kind === "box" && { skippedTotal: sum((report) => report.snapshot.bus?.skippedTotal ?? 0) }),
  };
  return {
    worker: own.worker,
    snapshot: { ...own.snapshot, apps, bus },
    http: [...http.values()],
    errors: { websocket: sum((report) => report.errors.websocket), http: sum((report) => report.errors.http) },
    transport: {
      openFiles,
      overCapacityRefusals: sum((report) => report.transport.overCapacityRefusals),
      bufferedBytes: sum((report) => report.transport.bufferedBytes),
      slowConsumersClosed,
    },
    webhooks: sumWebhooks(all),
  };
}
