import type { AppConfig } from "../config/schema.ts";
import type { ChannelKind } from "../protocol/channels.ts";
import { compileOriginCheck, type OriginCheck } from "../protocol/origins.ts";
import { CacheStore } from "./cache-store.ts";
import { Channel } from "./channel.ts";
import type { Connection, Subscription } from "./connection.ts";
import { ConnectionTable } from "./connection-table.ts";
import { Roster } from "./roster.ts";

/**
 * One app's live state: its channels with this node's subscriber counts, presence rosters for
 * the whole fleet, its established connections here, and its cache channels' last events.
 * Bookkeeping only; the hub decides what to send.
 */
export class AppState {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly channels = new Map<string, Channel>();
  /** Established connections, by socket id. */
  readonly connections = new ConnectionTable();
  /** Connections subscribed to at least one channel (what `/connections` reports). */
  subscribedConnections = 0;
  /** Frames received from and sent to this app's sockets here, since start. */
  messagesReceived = 0;
  messagesSent = 0;
  /** Presence members across the fleet, by channel; only channels that have members. */
  readonly rosters = new Map<string, Roster>();
  readonly cache: CacheStore;
  /** Null when the app allows every origin. */
  readonly originCheck: OriginCheck | null;
  /** Watched user id → how many sockets here watch them (signin's `watchlist`). */
  readonly watchers = new Map<string, number>();
  /** Presence or signed-in user → their sockets, with how many presence channels (+1 when signed in) each has them in. */
  private readonly userSockets = new Map<string, Map<Connection, number>>();

  /** Scopes transport topics to this app; empty when the server has no other app to keep apart. */
  private readonly topicPrefix: string;

  constructor(readonly config: AppConfig, scopeTopics: boolean) {
    this.topicPrefix = scopeTopics ? `${config.app_id}\u0000` : "";
    this.id = config.app_id;
    this.key = config.key;
    this.secret = config.secret;
    this.cache = new CacheStore(config.cache_ttl * 1000, config.max_cached_channels);
    this.originCheck = compileOriginCheck(config.allowed_origins);
  }

  /**
   * With one app the topic is the channel name itself, shared rather than a second string per
   * channel; uWS refuses an empty topic, so Reverb's empty channel name gets a stand-in.
   */
  private topicFor(name: string): string {
    if (this.topicPrefix !== "") return this.topicPrefix + name;
    return name === "" ? "\u0000" : name;
  }

  /**
   * The transport topic of a watched user's watchers. No socket can subscribe to a `#` channel
   * but its own `#server-to-user-<id>`, so this never meets a channel's topic.
   */
  watchTopic(user: string): string {
    return this.topicFor(`#watch\u0000${user}`);
  }

  /** Records a new subscription on this node. */
  subscribe(connection: Connection, name: string, kind: ChannelKind, data: Record<string, unknown> | null, userKey: string | null): Channel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new Channel(name, kind, this.topicFor(name));
      this.channels.set(name, channel);
    }
    channel.subscribers++;
    if (connection.subscriptionCount === 0) this.subscribedConnections++;
    connection.addSubscription(data === null && userKey === null ? channel : { channel, data, userKey });
    if (userKey !== null) this.addUserSocket(userKey, connection);
    return channel;
  }

  /** Forgets a subscription on this node; returns what it was, or null if there was none. */
  unsubscribe(connection: Connection, name: string): Subscription | null {
    const subscription = connection.removeSubscription(name);
    if (!subscription) return null;
    if (connection.subscriptionCount === 0) this.subscribedConnections--;
    if (--subscription.channel.subscribers === 0) this.channels.delete(name);
    if (subscription.userKey !== null) this.removeUserSocket(subscription.userKey, connection);
    return subscription;
  }

  /** The fleet-wide members of a presence channel, created on first use. */
  roster(name: string): Roster {
    let roster = this.rosters.get(name);
    if (!roster) this.rosters.set(name, (roster = new Roster()));
    return roster;
  }

  /** Rosters live only while they have members. */
  releaseRoster(name: string): void {
    if (this.rosters.get(name)?.size === 0) this.rosters.delete(name);
  }

  /** The sockets of a presence or signed-in user, for `terminate_connections`. */
  socketsOfUser(userKey: string): Connection[] {
    return [...(this.userSockets.get(userKey)?.keys() ?? [])];
  }

  addUserSocket(userKey: string, connection: Connection): void {
    let sockets = this.userSockets.get(userKey);
    if (!sockets) this.userSockets.set(userKey, (sockets = new Map()));
    sockets.set(connection, (sockets.get(connection) ?? 0) + 1);
  }

  removeUserSocket(userKey: string, connection: Connection): void {
    const sockets = this.userSockets.get(userKey)!;
    const count = sockets.get(connection)! - 1;
    if (count > 0) sockets.set(connection, count);
    else if (sockets.delete(connection) && sockets.size === 0) this.userSockets.delete(userKey);
  }
}

/** Apps looked up by key (WebSocket path) and by id (HTTP API path). */
export class AppRegistry {
  private readonly byKey = new Map<string, AppState>();
  private readonly byId = new Map<string, AppState>();

  constructor(configs: readonly AppConfig[]) {
    for (const config of configs) {
      const app = new AppState(config, configs.length > 1);
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
    }
  }

  findByKey(key: string): AppState | undefined {
    return this.byKey.get(key);
  }

  findById(id: string): AppState | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<AppState> {
    return this.byId.values();
  }
}
