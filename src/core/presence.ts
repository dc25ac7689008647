import type { Bus, PresenceSnapshot } from "../bus/bus.ts";
import { memberAddedFrame, memberRemovedFrame, presenceData } from "../protocol/frames.ts";
import type { AppRegistry, AppState } from "./app-state.ts";
import type { Connection } from "./connection.ts";
import type { ChannelHooks } from "./hooks.ts";
import { LeaveQueue } from "./leave-queue.ts";
import type { RosterMember } from "./roster.ts";

/** Hands a member event to a channel's local subscribers, skipping `except` (the joiner). */
export type Announce = (app: AppState, channel: string, frame: string, except: Connection | undefined) => void;

/** A user signed in on their first socket anywhere in the fleet, or left from their last. */
export type AnnounceUser = (app: AppState, user: string, online: boolean) => void;

/**
 * The roster of signed-in users (`pusher:signin`). It is kept like a presence channel's, so the
 * fleet's join/leave envelopes, resync and node deaths carry it with no protocol of its own; no
 * socket can subscribe to a `#` name, and its changes become watchlist events, not frames.
 */
export const SIGNED_IN = "#signed-in";

/**
 * Presence across the fleet: every node's sockets per user go into the app's rosters, local ones
 * are told to the other nodes, and `member_added` / `member_removed` go out when a user appears
 * anywhere for the first time or leaves from everywhere. Removals go out through a queue drained
 * in slices (see LeaveQueue), so a mass disconnect never holds the socket loop.
 */
export class Presence {
  private readonly leaves: LeaveQueue;

  constructor(
    private readonly apps: AppRegistry,
    private readonly nodeId: string,
    private readonly bus: Bus,
    private readonly hooks: ChannelHooks,
    private readonly announce: Announce,
    private readonly announceUser: AnnounceUser,
    report: (error: unknown) => void,
  ) {
    this.leaves = new LeaveQueue((app, channel, member) => this.sendLeave(app, channel, member), report);
  }

  /** The `subscription_succeeded` data of a presence channel: its fleet-wide members. */
  succeededData(app: AppState, channel: string): string {
    return presenceData(app.rosters.get(channel)?.members.values() ?? []);
  }

  /** Whether `user` would be a new member of a channel that already has `max` of them. */
  isFull(app: AppState, channel: string, user: string, max: number): boolean {
    const roster = app.rosters.get(channel);
    return roster !== undefined && roster.size >= max && !roster.members.has(user);
  }

  /** One more socket of `user` on `node`. */
  joined(app: AppState, channel: string, node: string, user: string, data: Record<string, unknown>, joiner: Connection | undefined): void {
    const roster = app.roster(channel);
    if (roster.add(node, user, data)) this.announceJoin(app, channel, roster.members.get(user)!, joiner);
    if (node === this.nodeId) this.bus.join(app.id, channel, user, data);
  }

  /** One socket less of `user` on `node`. */
  left(app: AppState, channel: string, node: string, user: string): void {
    const gone = app.rosters.get(channel)?.remove(node, user);
    if (gone) this.announceLeave(app, channel, gone);
    app.releaseRoster(channel);
    if (node === this.nodeId) this.bus.leave(app.id, channel, user);
  }

  /** Replaces what `node` held in every roster (null: it is gone), announcing the differences. */
  replaceNode(node: string, snapshot: PresenceSnapshot | null): void {
    const shares = new Map<string, PresenceSnapshot[number]["members"]>();
    for (const share of snapshot ?? []) shares.set(`${share.a}\u0000${share.c}`, share.members);
    for (const app of this.apps.all()) {
      for (const share of snapshot ?? []) if (share.a === app.id) app.roster(share.c);
      for (const [name, roster] of app.rosters) {
        const { joined, left } = roster.replaceNode(node, shares.get(`${app.id}\u0000${name}`) ?? []);
        for (const member of joined) this.announceJoin(app, name, member, undefined);
        for (const member of left) this.announceLeave(app, name, member);
        app.releaseRoster(name);
      }
    }
  }

  /** This node's share of every roster, for a resync. */
  snapshot(): PresenceSnapshot {
    const snapshot: PresenceSnapshot = [];
    for (const app of this.apps.all()) {
      for (const [name, roster] of app.rosters) {
        const members = roster.entriesOf(this.nodeId);
        if (members.length > 0) snapshot.push({ a: app.id, c: name, members });
      }
    }
    return snapshot;
  }

  private announceJoin(app: AppState, channel: string, member: RosterMember, joiner: Connection | undefined): void {
    this.leaves.flush(app, channel, member.key);
    if (channel === SIGNED_IN) return this.announceUser(app, member.key, true);
    this.announce(app, channel, memberAddedFrame(channel, JSON.stringify(member.data)), joiner);
    if (app.config.webhooks.length !== 0) this.hooks.memberAdded(app, channel, member.key);
  }

  private sendLeave(app: AppState, channel: string, member: RosterMember): void {
    if (channel === SIGNED_IN) this.announceUser(app, member.key, false);
    else this.announce(app, channel, memberRemovedFrame(channel, member.id), undefined);
  }

  private announceLeave(app: AppState, channel: string, member: RosterMember): void {
    this.leaves.add(app, channel, member);
    if (channel !== SIGNED_IN && app.config.webhooks.length !== 0) this.hooks.memberRemoved(app, channel, member.key);
  }
}
