import { BoundedQueue } from "../bus/bounded-queue.ts";
import type { BatchingConfig, WebhookConfig, WebhookEventType } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { webhookBody, type WebhookEvent } from "./events.ts";
import { postWebhook, webhookHeaders } from "./post.ts";

/** Events queued or in flight for one app, over all its receivers; `max` is `max_queue`. */
export interface AppBudget {
  queued: number;
  readonly max: number;
}

export interface DeliveryCounters {
  /** Events delivered (a batch counts its events). */
  sent: number;
  /** Events given up on: refused (4xx), or still failing when the retry window closed. */
  failed: number;
  /** Requests repeated after a failure. */
  retried: number;
  /** Events refused because the app's queue was full. */
  dropped: number;
}

export interface TargetOptions {
  appId: string;
  key: string;
  secret: string;
  webhook: WebhookConfig;
  batching: BatchingConfig;
  timeoutMs: number;
  retryWindowMs: number;
  budget: AppBudget;
  log: Logger;
}

/** Requests in flight per receiver: enough to keep up over a fast link, few enough to stay polite. */
const MAX_IN_FLIGHT = 8;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 60_000;

/**
 * One receiver of one app: its queue, its batches and its retries. The socket loop only pushes
 * onto the queue; requests, waits and retries run from timers and fetch callbacks, so a slow or
 * dead receiver holds at most `max_queue` events of its app and never a socket handler.
 */
export class WebhookTarget {
  readonly counters: DeliveryCounters = { sent: 0, failed: 0, retried: 0, dropped: 0 };
  /** Where log lines say the requests go: no query string, which may hold a token. */
  readonly where: string;
  private readonly queue = new BoundedQueue<WebhookEvent>(Number.POSITIVE_INFINITY);
  private readonly types: ReadonlySet<WebhookEventType>;
  private inFlight = 0;
  private batchTimer: Timer | undefined;
  /** The batch window has passed: send what is there even if short of `max_events`. */
  private batchDue = false;
  /** Draining: batches go without waiting. */
  private flushing = false;
  private stopped = false;
  private droppedInBurst = 0;
  private readonly sleeping = new Set<{ timer: Timer; wake: () => void }>();

  constructor(private readonly options: TargetOptions) {
    this.types = new Set(options.webhook.event_types);
    const url = new URL(options.webhook.url);
    this.where = `${url.origin}${url.pathname}`;
  }

  /** Whether this receiver asked for the event: its type, and the channel filter. */
  accepts(event: WebhookEvent): boolean {
    if (!this.types.has(event.name)) return false;
    const { channel_name_starts_with: starts, channel_name_ends_with: ends } = this.options.webhook.filter;
    return (!starts || event.channel.startsWith(starts)) && (!ends || event.channel.endsWith(ends));
  }

  wants(type: WebhookEventType): boolean {
    return this.types.has(type);
  }

  enqueue(event: WebhookEvent): void {
    const { budget, log, appId } = this.options;
    if (this.stopped) return;
    if (budget.queued >= budget.max) {
      this.counters.dropped++;
      if (this.droppedInBurst++ === 0) log.warn(`Webhooks of app ${appId}: queue full (${budget.max} events), dropping new ones for ${this.where}`);
      return;
    }
    if (this.droppedInBurst > 0) {
      log.warn(`Webhooks of app ${appId}: queue has room again; ${this.droppedInBurst} events for ${this.where} were dropped`);
      this.droppedInBurst = 0;
    }
    budget.queued++;
    this.queue.push(event);
    this.pump();
  }

  /** Nothing queued or in flight. */
  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  /** Sends what is queued without waiting for batches to fill. */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /** Stops sending and retrying; returns how many events were still queued or in flight. */
  stop(): number {
    this.stopped = true;
    clearTimeout(this.batchTimer);
    for (const sleeper of this.sleeping) {
      clearTimeout(sleeper.timer);
      sleeper.wake();
    }
    const left = this.queue.length;
    while (this.queue.shift() !== undefined) this.options.budget.queued--;
    return left + this.inFlight;
  }

  private pump(): void {
    const { batching } = this.options;
    while (!this.stopped && this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      if (batching.enabled && !this.flushing && !this.batchDue && this.queue.length < batching.max_events) {
        this.batchTimer ??= setTimeout(() => {
          this.batchTimer = undefined;
          this.batchDue = true;
          this.pump();
        }, batching.duration);
        return;
      }
      const size = batching.enabled ? batching.max_events : 1;
      const batch: WebhookEvent[] = [];
      while (batch.length < size) {
        const event = this.queue.shift();
        if (event === undefined) break;
        batch.push(event);
      }
      this.batchDue = false;
      this.inFlight++;
      this.deliver(batch)
        .catch((error: unknown) => {
          this.counters.failed += batch.length;
          this.options.log.error(`Webhook of app ${this.options.appId} to ${this.where} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        })
        .finally(() => {
          this.inFlight--;
          this.options.budget.queued -= batch.length;
          this.pump();
        });
    }
  }

  private async deliver(batch: WebhookEvent[]): Promise<void> {
    const { key, secret, webhook, timeoutMs, retryWindowMs, log, appId } = this.options;
    const first = Date.now();
    const body = webhookBody(batch, first);
    const headers = webhookHeaders(key, secret, body, webhook.headers);
    let delay = FIRST_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      const outcome = await postWebhook(webhook.url, headers, body, timeoutMs);
      if (outcome.kind === "sent") {
        this.counters.sent += batch.length;
        break;
      }
      if (outcome.kind === "refused") {
        this.counters.failed += batch.length;
        log.warn(`Webhook of app ${appId} refused by ${this.where} (${outcome.reason}): dropped ${batch.length} events`);
        break;
      }
      if (this.stopped || Date.now() + delay - first > retryWindowMs) {
        this.counters.failed += batch.length;
        log.warn(`Webhook of app ${appId} to ${this.where} failed ${attempt} times (last: ${outcome.reason}): gave up on ${batch.length} events`);
        break;
      }
      this.counters.retried++;
      await this.sleep(delay);
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleeping.delete(sleeper);
          resolve();
        }, ms),
        wake: () => {
          this.sleeping.delete(sleeper);
          resolve();
        },
      };
      this.sleeping.add(sleeper);
    });
  }
}
