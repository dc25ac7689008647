import type { ChannelKind } from "../protocol/channels.ts";
import type { Subscription } from "./connection.ts";

/** A channel with at least one local subscriber. */
export class Channel implements Subscription {
  subscribers = 0;

  constructor(
    readonly name: string,
    readonly kind: ChannelKind,
    /** The transport topic: scoped by app so apps never see each other's traffic. */
    readonly topic: string,
  ) {}

  // A subscription without channel_data is the channel itself: no object per subscriber.
  get channel(): Channel {
    return this;
  }

  get data(): null {
    return null;
  }

  get userKey(): null {
    return null;
  }
}
