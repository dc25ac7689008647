import type { Bus, OccupancySnapshot } from "../bus/bus.ts";
import { WEBHOOK_EVENT_TYPES, type AppConfig, type WebhookDeliveryConfig, type WebhookEventType } from "../config/schema.ts";
import type { AppState } from "../core/app-state.ts";
import type { ChannelHooks } from "../core/hooks.ts";
import type { Logger } from "../log.ts";
import { channelKind } from "../protocol/channels.ts";
import type { WebhookEvent } from "./events.ts";
import { GraceTimers } from "./grace.ts";
import { FleetOccupancy, type CountChange } from "./occupancy.ts";
import { WebhookTarget, type AppBudget, type DeliveryCounters } from "./target.ts";

/** One app's receivers and what they asked for. */
interface AppHooks {
  readonly targets: WebhookTarget[];
  readonly budget: AppBudget;
  /** Occupied/vacated or subscription counts: the fleet's counts must be kept. */
  readonly occupancy: boolean;
  readonly counts: boolean;
  readonly members: boolean;
  /** Last subscription_count sent per channel, so a reload (1 → 0 → 1) sends none. */
  readonly lastCount: Map<string, number>;
}

/** One app's delivery numbers, for /metrics. */
export interface WebhookNumbers extends DeliveryCounters {
  readonly app: string;
  readonly queued: number;
}

export interface WebhooksOptions {
  apps: readonly AppConfig[];
  delivery: WebhookDeliveryConfig;
  bus: Bus;
  log: Logger;
  graceMs?: number;
}

/**
 * Pusher's webhooks for every app that has receivers. Client events and cache misses are sent by
 * the node where they happen, once. Occupancy and member changes are seen by every node (they
 * keep the fleet's subscriber counts and rosters), and sent by one: the live node with the lowest
 * id, so each transition goes out once. Leaves wait out the grace delay first.
 */
export class Webhooks implements ChannelHooks {
  private readonly apps = new Map<string, AppHooks>();
  private readonly occupancy = new FleetOccupancy();
  private readonly grace: GraceTimers;
  private readonly bus: Bus;
  private readonly nodeId: string;
  private readonly log: Logger;
  private stopped = false;

  constructor(options: WebhooksOptions) {
    this.bus = options.bus;
    this.nodeId = options.bus.nodeId;
    this.log = options.log;
    this.grace = new GraceTimers(options.graceMs);
    const { delivery } = options;
    for (const app of options.apps) {
      if (app.webhooks.length === 0) continue;
      const budget: AppBudget = { queued: 0, max: delivery.max_queue };
      const targets = app.webhooks.map(
        (webhook) =>
          new WebhookTarget({
            appId: app.app_id,
            key: app.key,
            secret: app.secret,
            webhook,
            batching: webhook.batching ?? delivery.batching,
            timeoutMs: delivery.request_timeout,
            retryWindowMs: delivery.retry_window,
            budget,
            log: options.log,
          }),
      );
      const wants = (type: WebhookEventType) => targets.some((target) => target.wants(type));
      for (const [index, target] of targets.entries()) {
        const types = app.webhooks[index]!.event_types;
        options.log.info(`App ${app.app_id} webhooks: ${target.where} (${types.length === WEBHOOK_EVENT_TYPES.length ? "every event" : types.join(", ")})`);
      }
      this.apps.set(app.app_id, {
        targets,
        budget,
        occupancy: wants("channel_occupied") || wants("channel_vacated") || wants("subscription_count"),
        counts: wants("subscription_count"),
        members: wants("member_added") || wants("member_removed"),
        lastCount: new Map(),
      });
    }
  }

  countChanged(app: AppState, channel: string, count: number): void {
    const hooks = this.apps.get(app.id);
    if (!hooks?.occupancy) return;
    const change = this.occupancy.set(app.id, channel, this.nodeId, count);
    // Others need every count for subscription_count, otherwise only whether we have any.
    if (hooks.counts || count <= 1) this.bus.occupancy(app.id, channel, count);
    this.changed(hooks, change);
  }

  remoteCount(node: string, appId: string, channel: string, count: number): void {
    const hooks = this.apps.get(appId);
    if (hooks?.occupancy) this.changed(hooks, this.occupancy.set(appId, channel, node, count));
  }

  replaceNode(node: string, shares: OccupancySnapshot | null): void {
    for (const change of this.occupancy.replaceNode(node, shares ?? [])) {
      const hooks = this.apps.get(change.appId);
      if (hooks) this.changed(hooks, change);
    }
  }

  snapshot(): OccupancySnapshot {
    return this.occupancy.sharesOf(this.nodeId);
  }

  memberAdded(app: AppState, channel: string, userKey: string): void {
    const hooks = this.apps.get(app.id);
    if (!hooks?.members) return;
    if (this.grace.cancel(`m\u0000${app.id}\u0000${channel}\u0000${userKey}`)) return;
    this.sendFleetEvent(hooks, { name: "member_added", channel, user_id: userKey });
  }

  memberRemoved(app: AppState, channel: string, userKey: string): void {
    const hooks = this.apps.get(app.id);
    if (!hooks?.members) return;
    this.grace.delay(`m\u0000${app.id}\u0000${channel}\u0000${userKey}`, () =>
      this.sendFleetEvent(hooks, { name: "member_removed", channel, user_id: userKey }),
    );
  }

  clientEvent(app: AppState, channel: string, event: string, data: unknown, socketId: string, userKey: string | null): void {
    const hooks = this.apps.get(app.id);
    const kind = channelKind(channel);
    if (!hooks || !kind.authenticated) return;
    const text = typeof data === "string" ? data : JSON.stringify(data ?? null);
    const body: WebhookEvent =
      kind.presence && userKey !== null
        ? { name: "client_event", channel, event, data: text, socket_id: socketId, user_id: userKey }
        : { name: "client_event", channel, event, data: text, socket_id: socketId };
    this.route(hooks, body);
  }

  cacheMiss(app: AppState, channel: string): void {
    const hooks = this.apps.get(app.id);
    if (hooks) this.route(hooks, { name: "cache_miss", channel });
  }

  numbers(): WebhookNumbers[] {
    return [...this.apps].map(([app, hooks]) => {
      const total = { sent: 0, failed: 0, retried: 0, dropped: 0 };
      for (const { counters } of hooks.targets) {
        total.sent += counters.sent;
        total.failed += counters.failed;
        total.retried += counters.retried;
        total.dropped += counters.dropped;
      }
      return { app, queued: hooks.budget.queued, ...total };
    });
  }

  /**
   * Sends what is queued within `timeoutMs`, then stops; logs how many events could not be sent.
   * Alone, waiting leaves go out at once: nobody will come back to this node. In a fleet they are
   * left to the others, who see this node's clients leave and come back elsewhere.
   */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (isEmpty(this.bus.peerIds())) this.grace.fireAll();
    const targets = [...this.apps.values()].flatMap((hooks) => hooks.targets);
    for (const target of targets) target.flush();
    while (!targets.every((target) => target.idle) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.grace.clear();
    let left = 0;
    for (const [app, hooks] of this.apps) {
      for (const target of hooks.targets) {
        const count = target.stop();
        left += count;
        if (count > 0) this.log.warn(`Webhooks of app ${app}: ${count} events for ${target.where} were not sent before shutdown`);
      }
    }
    if (left === 0 && this.apps.size > 0) this.log.info("Webhooks: every queued event was sent");
  }

  /** A fleet total changed: occupied at once, vacated after the grace delay, counts as they go. */
  private changed(hooks: AppHooks, { appId, channel, before, after }: CountChange): void {
    if (before === after) return;
    const key = `c\u0000${appId}\u0000${channel}`;
    if (before === 0) {
      if (!this.grace.cancel(key)) this.sendFleetEvent(hooks, { name: "channel_occupied", channel });
    } else if (after === 0) {
      this.grace.delay(key, () => {
        hooks.lastCount.delete(channel);
        this.sendFleetEvent(hooks, { name: "channel_vacated", channel });
      });
    }
    // Not for presence channels (Pusher's rule), and not for 0: channel_vacated says that.
    if (hooks.counts && after > 0 && hooks.lastCount.get(channel) !== after && !channelKind(channel).presence) {
      hooks.lastCount.set(channel, after);
      this.sendFleetEvent(hooks, { name: "subscription_count", channel, subscription_count: after });
    }
  }

  /** Every node sees fleet events; the live node with the lowest id sends them. */
  private sendFleetEvent(hooks: AppHooks, event: WebhookEvent): void {
    for (const peer of this.bus.peerIds()) if (peer < this.nodeId) return;
    this.route(hooks, event);
  }

  private route(hooks: AppHooks, event: WebhookEvent): void {
    for (const target of hooks.targets) if (target.accepts(event)) target.enqueue(event);
  }
}

function isEmpty(items: Iterable<string>): boolean {
  for (const _ of items) return false;
  return true;
}
