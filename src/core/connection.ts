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

/**
 * What only some sockets need: sockets of apps with rate limiting or `user_authentication_timeout`,
 * signed-in users, sockets on more than one channel. Out of line, an idle socket does not carry it.
 */
class Occasional {
  more: Map<string, Subscription> | null = null;
  rateWindowStart = 0;
  rateWindowCount = 0;
  userId: string | null = null;
  watching: readonly string[] | null = null;
  authorizationTimer: ReturnType<typeof setTimeout> | null = null;
}

const ESTABLISHED = 1;
const CONTROL_FRAMES = 2;

/**
 * One client socket. Lives in `ws.data`; the transport sets `socket` when the upgrade completes.
 * Held once per connection, so every field here costs 8 bytes times the connection count: fields
 * most sockets never use live in `Occasional`, reached through the accessors below.
 */
export class Connection {
  socket!: Socket;
  /**
   * Most clients hold one to three channels: the first subscription is kept inline and a map is
   * made only for more (an empty Map costs more than the rest of this object).
   */
  private first: Subscription | null = null;
  private occasional: Occasional | null = null;
  /** Milliseconds; any inbound frame, WS control frames included, moves it. */
  lastSeen: number;
  /** When the server pinged and is waiting for any answer; 0 when not waiting. */
  pingedAt = 0;
  /** ESTABLISHED and CONTROL_FRAMES: two booleans in one field (see the class comment). */
  private flags = 0;
  /** Given when the hub admits the socket: its app's ConnectionTable names it. */
  socketId = "";

  constructor(
    readonly app: AppState,
    now: number,
  ) {
    this.lastSeen = now;
  }

  get established(): boolean {
    return (this.flags & ESTABLISHED) !== 0;
  }

  set established(value: boolean) {
    this.flags = value ? this.flags | ESTABLISHED : this.flags & ~ESTABLISHED;
  }

  /** The client speaks WS control frames, so it is pinged with one rather than `pusher:ping`. */
  get usesControlFrames(): boolean {
    return (this.flags & CONTROL_FRAMES) !== 0;
  }

  set usesControlFrames(value: boolean) {
    this.flags = value ? this.flags | CONTROL_FRAMES : this.flags & ~CONTROL_FRAMES;
  }

  private get extra(): Occasional {
    return (this.occasional ??= new Occasional());
  }

  /** The `id` of `pusher:signin`'s `user_data`, once signed in. */
  get userId(): string | null {
    return this.occasional?.userId ?? null;
  }

  set userId(id: string | null) {
    if (id !== null || this.occasional) this.extra.userId = id;
  }

  /** The user ids this socket watches (signin's `watchlist`). */
  get watching(): readonly string[] | null {
    return this.occasional?.watching ?? null;
  }

  set watching(ids: readonly string[] | null) {
    if (ids !== null || this.occasional) this.extra.watching = ids;
  }

  /** `user_authentication_timeout`'s check, until the socket signs in or joins a private or presence channel. */
  get authorizationTimer(): ReturnType<typeof setTimeout> | null {
    return this.occasional?.authorizationTimer ?? null;
  }

  set authorizationTimer(timer: ReturnType<typeof setTimeout> | null) {
    if (timer !== null || this.occasional) this.extra.authorizationTimer = timer;
  }

  /**
   * Counts a frame against `maxAttempts` per `decayMs` window (Reverb's fixed window); false when
   * over the limit. A window starts at the first frame after the previous one ended.
   */
  takeFrame(now: number, maxAttempts: number, decayMs: number): boolean {
    const extra = this.extra;
    if (now - extra.rateWindowStart >= decayMs) {
      extra.rateWindowStart = now;
      extra.rateWindowCount = 0;
    }
    if (extra.rateWindowCount >= maxAttempts) return false;
    extra.rateWindowCount++;
    return true;
  }

  subscription(channel: string): Subscription | undefined {
    return this.first?.channel.name === channel ? this.first : this.occasional?.more?.get(channel);
  }

  get subscriptionCount(): number {
    return (this.first === null ? 0 : 1) + (this.occasional?.more?.size ?? 0);
  }

  subscriptions(): Subscription[] {
    const more = this.occasional?.more;
    const all = more ? [...more.values()] : [];
    if (this.first) all.unshift(this.first);
    return all;
  }

  addSubscription(subscription: Subscription): void {
    if (this.first === null) this.first = subscription;
    else (this.extra.more ??= new Map()).set(subscription.channel.name, subscription);
  }

  removeSubscription(channel: string): Subscription | undefined {
    const subscription = this.subscription(channel);
    if (subscription === this.first) this.first = null;
    else this.occasional?.more?.delete(channel);
    return subscription;
  }

  touch(now: number): void {
    this.lastSeen = now;
    this.pingedAt = 0;
  }
}
