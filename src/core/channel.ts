import type { ChannelKind } from "../protocol/channels.ts";

/** A channel with at least one local subscriber. */
export class Channel {
  subscribers = 0;

  constructor(
    readonly name: string,
    readonly kind: ChannelKind,
    /** The transport topic: scoped by app so apps never see each other's traffic. */
    readonly topic: string,
  ) {}
}

export function topicFor(appId: string, channel: string): string {
  return `${appId}\u0000${channel}`;
}
