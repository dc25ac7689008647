/**
 * The members of one presence channel across the fleet. Each node's sockets per user are counted
 * separately, so a node's share can be replaced or dropped whole (resync, node death) and every
 * node's view converges whatever order the updates arrive in. A user is a member while any node
 * holds at least one of their sockets.
 */
export interface RosterMember {
  /** `String(user_id)`, the key of the roster. */
  readonly key: string;
  /** `user_id` as the client sent it: ints stay ints on the wire. */
  readonly id: unknown;
  readonly info: unknown;
  /** The decoded `channel_data`, which `member_added` carries in full. */
  readonly data: Record<string, unknown>;
  /** Sockets of this user per node id. */
  readonly sockets: Map<string, number>;
}

/** One node's share of a roster, as a resync snapshot carries it. */
export interface RosterEntry {
  readonly user: string;
  readonly data: Record<string, unknown>;
  readonly sockets: number;
}

export class Roster {
  /** By `String(user_id)`, in the order users first joined. */
  readonly members = new Map<string, RosterMember>();

  /** Counts one more socket; true when the user was not a member before. */
  add(node: string, user: string, data: Record<string, unknown>, sockets = 1): boolean {
    const member = this.members.get(user);
    if (member) {
      member.sockets.set(node, (member.sockets.get(node) ?? 0) + sockets);
      return false;
    }
    this.members.set(user, { key: user, id: data.user_id, info: data.user_info, data, sockets: new Map([[node, sockets]]) });
    return true;
  }

  /** Counts one socket less; returns the member when that was their last socket anywhere. */
  remove(node: string, user: string): RosterMember | null {
    const member = this.members.get(user);
    const count = member?.sockets.get(node);
    if (!member || count === undefined) return null;
    if (count > 1) member.sockets.set(node, count - 1);
    else member.sockets.delete(node);
    if (member.sockets.size > 0) return null;
    this.members.delete(user);
    return member;
  }

  /** Forgets everything `node` held; returns the members that are gone as a result. */
  dropNode(node: string): RosterMember[] {
    const gone: RosterMember[] = [];
    for (const [user, member] of this.members) {
      if (!member.sockets.delete(node) || member.sockets.size > 0) continue;
      this.members.delete(user);
      gone.push(member);
    }
    return gone;
  }

  /** Replaces `node`'s share with `entries`; returns who joined and who left as a result. */
  replaceNode(node: string, entries: readonly RosterEntry[]): { joined: RosterMember[]; left: RosterMember[] } {
    const present = new Set(entries.map((entry) => entry.user));
    const left: RosterMember[] = [];
    for (const [user, member] of this.members) {
      if (present.has(user) || !member.sockets.delete(node) || member.sockets.size > 0) continue;
      this.members.delete(user);
      left.push(member);
    }
    const joined: RosterMember[] = [];
    for (const entry of entries) {
      const member = this.members.get(entry.user);
      if (member) member.sockets.set(node, entry.sockets);
      else if (this.add(node, entry.user, entry.data, entry.sockets)) joined.push(this.members.get(entry.user)!);
    }
    return { joined, left };
  }

  /** This node's share, for a resync snapshot. */
  entriesOf(node: string): RosterEntry[] {
    const entries: RosterEntry[] = [];
    for (const [user, member] of this.members) {
      const sockets = member.sockets.get(node);
      if (sockets) entries.push({ user, data: member.data, sockets });
    }
    return entries;
  }

  get size(): number {
    return this.members.size;
  }
}
