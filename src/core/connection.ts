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
  readonly subscriptions = new Map<string, Subscription>();
  /** Milliseconds; any inbound frame, WS control frames included, moves it. */
  lastSeen: number;
  /** When the server pinged and is waiting for any answer; 0 when not waiting. */
  pingedAt = 0;
  /** The client speaks WS control frames, so it is pinged with one rather than `pusher:ping`. */
  usesControlFrames = false;
  rateWindowStart = 0;
  rateWindowCount = 0;
  established = false;

  constructor(
    readonly socketId: string,
    readonly app: AppState,
    now: number,
  ) {
    this.lastSeen = now;
  }

  touch(now: number): void {
    this.lastSeen = now;
    this.pingedAt = 0;
  }
}
