import type { Bus } from "../bus/bus.ts";
import { subscriptionCountFrame } from "../protocol/frames.ts";
import type { AppRegistry, AppState } from "./app-state.ts";

/** Above this many subscribers a channel's count goes out at most once per THROTTLE_MS (Pusher's rule). */
const THROTTLE_ABOVE = 100;
const THROTTLE_MS = 5_000;

/** One channel's subscribers per node, and when its count last went out. */
interface Tally {
  readonly nodes: Map<string, number>;
  sentAt: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * `pusher_internal:subscription_count` for apps with `subscription_count` on. Every node tells
 * the fleet its own subscriber count of a channel whenever it changes (`Bus.subscriptionCount`),
 * keeps every node's last count, and sends the sum to its own subscribers of that channel. A node
 * that goes away takes its counts with it; on every resync each node repeats its counts, so a
 * count missed while Redis was away is put right then.
 */
export class SubscriptionCounts {
  private readonly tallies = new Map<string, Map<string, Tally>>();
  private resendScheduled = false;

  constructor(
    private readonly apps: AppRegistry,
    private readonly nodeId: string,
    private readonly bus: Bus,
    /** Hands a frame to the channel's subscribers on this node. */
    private readonly publish: (app: AppState, channel: string, frame: string) => void,
    private readonly clock: () => number,
  ) {}

  /** This node's subscriber count of `channel` changed to `local`. */
  changed(app: AppState, channel: string, local: number): void {
    this.set(app, channel, this.nodeId, local);
    this.bus.subscriptionCount(app.id, channel, local);
  }

  /**
   * The count a subscriber answered late (see `Hub.hold`) missed while it was on no topic: what
   * went out to the others when it joined, unless that was throttled.
   */
  frameFor(app: AppState, channel: string): string | null {
    const tally = this.tallies.get(app.id)?.get(channel);
    const total = tally ? sum(tally) : 0;
    return total === 0 || total > THROTTLE_ABOVE ? null : subscriptionCountFrame(channel, total);
  }

  remote(node: string, appId: string, channel: string, count: number): void {
    const app = this.apps.findById(appId);
    if (app?.config.subscription_count) this.set(app, channel, node, count);
  }

  /** Forgets what a departed node held, telling subscribers the new sums. */
  dropNode(node: string): void {
    for (const [appId, channels] of this.tallies) {
      const app = this.apps.findById(appId)!;
      for (const [channel, tally] of channels) if (tally.nodes.has(node)) this.set(app, channel, node, 0);
    }
  }

  /** A node (re)joined or resynced: repeat our counts, once for a burst of resyncs. */
  resendSoon(): void {
    if (this.resendScheduled || this.tallies.size === 0) return;
    this.resendScheduled = true;
    setTimeout(() => {
      this.resendScheduled = false;
      for (const [appId, channels] of this.tallies) {
        for (const [channel, tally] of channels) {
          const own = tally.nodes.get(this.nodeId);
          if (own) this.bus.subscriptionCount(appId, channel, own);
        }
      }
    }, 50).unref();
  }

  private set(app: AppState, channel: string, node: string, count: number): void {
    let channels = this.tallies.get(app.id);
    if (!channels) this.tallies.set(app.id, (channels = new Map()));
    let tally = channels.get(channel);
    if (!tally) channels.set(channel, (tally = { nodes: new Map(), sentAt: 0, timer: null }));
    // A resync repeats every count: only a change goes out.
    if ((tally.nodes.get(node) ?? 0) === count && tally.nodes.size > 0) return;
    if (count > 0) tally.nodes.set(node, count);
    else tally.nodes.delete(node);

    const total = sum(tally);
    if (total <= THROTTLE_ABOVE) return this.send(app, channel, tally);
    const wait = tally.sentAt + THROTTLE_MS - this.clock();
    if (wait <= 0) return this.send(app, channel, tally);
    tally.timer ??= setTimeout(() => this.send(app, channel, tally), wait).unref();
  }

  private send(app: AppState, channel: string, tally: Tally): void {
    if (tally.timer !== null) clearTimeout(tally.timer);
    tally.timer = null;
    tally.sentAt = this.clock();
    const total = sum(tally);
    if (total === 0) this.forget(app.id, channel);
    else if (app.channels.has(channel)) this.publish(app, channel, subscriptionCountFrame(channel, total));
  }

  private forget(appId: string, channel: string): void {
    const channels = this.tallies.get(appId)!;
    channels.delete(channel);
    if (channels.size === 0) this.tallies.delete(appId);
  }
}

function sum(tally: Tally): number {
  let total = 0;
  for (const count of tally.nodes.values()) total += count;
  return total;
}
