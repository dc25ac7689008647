import { watchlistEventsFrame } from "../protocol/frames.ts";
import type { AppState } from "./app-state.ts";
import type { Connection } from "./connection.ts";

/**
 * Watchlists: each node tells its own watchers when a watched user comes online or goes offline
 * anywhere in the fleet, which every node knows from the signed-in roster. A watcher's socket
 * subscribes to one transport topic per watched user (`AppState.watchTopic`), so a change is one
 * native publish however many sockets watch that user; apps that use no watchlist pay nothing.
 */
export class Watchlist {
  constructor(
    private readonly send: (connection: Connection, frame: string) => void,
    /** Hands a frame to every subscriber of a transport topic on this node. */
    private readonly publish: (topic: string, frame: string) => void,
  ) {}

  /** Starts watching `ids` and tells the socket which of them are online now. */
  watch(app: AppState, connection: Connection, ids: readonly string[], isOnline: (user: string) => boolean): void {
    const unique = [...new Set(ids)];
    connection.watching = unique;
    const online: string[] = [];
    for (const id of unique) {
      app.watchers.set(id, (app.watchers.get(id) ?? 0) + 1);
      connection.socket.subscribe(app.watchTopic(id));
      if (isOnline(id)) online.push(id);
    }
    if (online.length > 0) this.send(connection, watchlistEventsFrame("online", online));
  }

  /** The socket is closing: the transport drops its topics, only the counts are ours to undo. */
  unwatch(connection: Connection): void {
    const app = connection.app;
    for (const id of connection.watching ?? []) {
      const count = app.watchers.get(id)! - 1;
      if (count > 0) app.watchers.set(id, count);
      else app.watchers.delete(id);
    }
    connection.watching = null;
  }

  /** `user` signed in on their first socket in the fleet (`online`) or left from their last. */
  announce(app: AppState, user: string, online: boolean): void {
    const watchers = app.watchers.get(user);
    if (watchers === undefined) return;
    this.publish(app.watchTopic(user), watchlistEventsFrame(online ? "online" : "offline", [user]));
    app.messagesSent += watchers;
  }
}
