import type { Channel } from "./channel.ts";
import type { AppState } from "./app-state.ts";
import type { Socket } from "./socket.ts";

export interface Subscription {
  readonly channel: Channel;
  /** Decoded `channel_data`, when the client sent an object. */
  readonly data: Record<string, unknown> | null;
  /** `String(user_id)` for presence members. */
  readonly userKey: string | null;
}

/** One client socket. Lives in `ws.data`; the transport sets `socket` when the upgrade completes. */
export class Connection {
  socket!: Socket;
  /**
   * Most clients hold one to three channels: the first subscription is kept inline and a map is
   * made only for more (an empty Map costs more than the rest of this object).
   */
  private first: Subscription | null = null;
  private more: Map<string, Subscription> | null = null;
  /** Milliseconds; any inbound frame, WS control frames included, moves it. */
  lastSeen: number;
  /** When the server pinged and is waiting for any answer; 0 when not waiting. */
  pingedAt = 0;
  /** The client speaks WS control frames, so it is pinged with one rather than `pusher:ping`. */
  usesControlFrames = false;
  rateWindowStart = 0;
  rateWindowCount = 0;
  established = false;
  /** The `id` of `pusher:signin`'s `user_data`, once signed in. */
  userId: string | null = null;
  /** The user ids this socket watches (signin's `watchlist`). */
  watching: readonly string[] | null = null;
  /** `user_authentication_timeout`'s check, until the socket signs in or joins a private or presence channel. */
  authorizationTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly socketId: string,
    readonly app: AppState,
    now: number,
  ) {
    this.lastSeen = now;
  }

  subscription(channel: string): Subscription | undefined {
    return this.first?.channel.name === channel ? this.first : this.more?.get(channel);
  }

  get subscriptionCount(): number {
    return (this.first === null ? 0 : 1) + (this.more?.size ?? 0);
  }

  subscriptions(): Subscription[] {
    const all = this.more ? [...this.more.values()] : [];
    if (this.first) all.unshift(this.first);
    return all;
  }

  addSubscription(subscription: Subscription): void {
    if (this.first === null) this.first = subscription;
    else (this.more ??= new Map()).set(subscription.channel.name, subscription);
  }

  removeSubscription(channel: string): Subscription | undefined {
    const subscription = this.subscription(channel);
    if (subscription === this.first) this.first = null;
    else this.more?.delete(channel);
    return subscription;
  }

  touch(now: number): void {
    this.lastSeen = now;
    this.pingedAt = 0;
  }
}
