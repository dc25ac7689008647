import type { ChannelKind } from "../protocol/channels.ts";

export interface Member {
  /** `user_id` as the client sent it: ints stay ints on the wire. */
  readonly id: unknown;
  readonly info: unknown;
  /** Sockets of this user on the channel: one member however many tabs are open. */
  sockets: number;
}

/** A channel with at least one local subscriber. */
export class Channel {
  subscribers = 0;
  /** Presence members by `String(user_id)`, in the order they joined. */
  readonly members: Map<string, Member> | null;

  constructor(
    readonly name: string,
    readonly kind: ChannelKind,
    /** The transport topic: scoped by app so apps never see each other's traffic. */
    readonly topic: string,
  ) {
    this.members = kind.presence ? new Map() : null;
  }
}

export function topicFor(appId: string, channel: string): string {
  return `${appId}\u0000${channel}`;
}
