import type { AppState } from "./app-state.ts";
import { SLICE_MS } from "./pacer.ts";
import type { RosterMember } from "./roster.ts";

interface PendingLeave {
  readonly app: AppState;
  readonly channel: string;
  readonly member: RosterMember;
}

/**
 * `member_removed` announcements (and watchlist `offline`), sent in slices of about SLICE_MS. When thousands of members of
 * one presence channel disconnect at once, announcing each as its socket closes costs N × N
 * frames in one turn of the loop (3,200 members held it for over a second), half of them written
 * to sockets that are closing too. Queued, the close callbacks only do bookkeeping, and by the
 * time the queue drains the closed sockets have left the channel, so each announcement reaches
 * only the members still there, a slice at a time, with `/up` and other apps served in between.
 *
 * Order per member is kept: a member who joins again while their removal still waits has the
 * removal sent first (`flush`), so no one is told they left after being told they are back.
 */
export class LeaveQueue {
  /** By app, channel and member, oldest first. */
  private readonly pending = new Map<string, PendingLeave>();
  private scheduled = false;

  constructor(
    private readonly announce: (app: AppState, channel: string, member: RosterMember) => void,
    /** A drain runs outside any socket handler: what it throws would otherwise end the process. */
    private readonly report: (error: unknown) => void,
  ) {}

  add(app: AppState, channel: string, member: RosterMember): void {
    this.pending.set(keyOf(app, channel, member.key), { app, channel, member });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Sends now the removal of `user` from `channel` if it is still waiting. */
  flush(app: AppState, channel: string, user: string): void {
    const key = keyOf(app, channel, user);
    const leave = this.pending.get(key);
    if (!leave) return;
    this.pending.delete(key);
    this.send(leave);
  }

  get size(): number {
    return this.pending.size;
  }

  private drain(): void {
    this.scheduled = false;
    const deadline = performance.now() + SLICE_MS;
    for (const [key, leave] of this.pending) {
      this.pending.delete(key);
      try {
        this.send(leave);
      } catch (error) {
        this.report(error);
      }
      if (performance.now() >= deadline) break;
    }
    if (this.pending.size > 0) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private send({ app, channel, member }: PendingLeave): void {
    this.announce(app, channel, member);
  }
}

function keyOf(app: AppState, channel: string, user: string): string {
  return `${app.id}\u0000${channel}\u0000${user}`;
}
