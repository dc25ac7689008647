import { watchlistEventsFrame } from "../protocol/frames.ts";
import type { AppState } from "./app-state.ts";
import type { Connection } from "./connection.ts";

/**
 * Watchlists: each node tells its own watchers when a watched user comes online or goes offline
 * anywhere in the fleet, which every node knows from the signed-in roster. One frame is built per
 * change and written to each watcher of that user here; apps that use no watchlist pay nothing.
 */
export class Watchlist {
  constructor(private readonly send: (connection: Connection, frame: string) => void) {}

  /** Starts watching `ids` and tells the socket which of them are online now. */
  watch(app: AppState, connection: Connection, ids: readonly string[], isOnline: (user: string) => boolean): void {
    const unique = [...new Set(ids)];
    connection.watching = unique;
    const online: string[] = [];
    for (const id of unique) {
      let watchers = app.watchers.get(id);
      if (!watchers) app.watchers.set(id, (watchers = new Set()));
      watchers.add(connection);
      if (isOnline(id)) online.push(id);
    }
    if (online.length > 0) this.send(connection, watchlistEventsFrame("online", online));
  }

  unwatch(connection: Connection): void {
    const app = connection.app;
    for (const id of connection.watching ?? []) {
      const watchers = app.watchers.get(id);
      if (watchers?.delete(connection) && watchers.size === 0) app.watchers.delete(id);
    }
    connection.watching = null;
  }

  /** `user` signed in on their first socket in the fleet (`online`) or left from their last. */
  announce(app: AppState, user: string, online: boolean): void {
    const watchers = app.watchers.get(user);
    if (!watchers) return;
    const frame = watchlistEventsFrame(online ? "online" : "offline", [user]);
    for (const connection of watchers) this.send(connection, frame);
  }
}
