import type { AppConfig } from "../config/schema.ts";
import type { ChannelKind } from "../protocol/channels.ts";
import { compileOriginCheck, type OriginCheck } from "../protocol/origins.ts";
import { CacheStore } from "./cache-store.ts";
import { Channel, topicFor, type Member } from "./channel.ts";
import type { Connection } from "./connection.ts";

/**
 * One app's live state on this node: its channels with counts and presence members, its
 * established connections, and its cache channels' last events. Bookkeeping only; the hub
 * decides what to send.
 */
export class AppState {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly channels = new Map<string, Channel>();
  /** Established connections by socket id. */
  readonly connections = new Map<string, Connection>();
  /** Connections subscribed to at least one channel (what `/connections` reports). */
  subscribedConnections = 0;
  readonly cache: CacheStore;
  readonly originAllowed: OriginCheck;
  /** Presence user → their sockets, with how many presence channels each has them in. */
  private readonly userSockets = new Map<string, Map<Connection, number>>();

  constructor(readonly config: AppConfig) {
    this.id = config.app_id;
    this.key = config.key;
    this.secret = config.secret;
    this.cache = new CacheStore(config.cache_ttl * 1000, config.max_cached_channels);
    this.originAllowed = compileOriginCheck(config.allowed_origins);
  }

  /** Records a new subscription; says whether it made the user a new presence member. */
  subscribe(
    connection: Connection,
    name: string,
    kind: ChannelKind,
    data: Record<string, unknown> | null,
    userKey: string | null,
  ): { channel: Channel; newMember: boolean } {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new Channel(name, kind, topicFor(this.id, name));
      this.channels.set(name, channel);
    }
    channel.subscribers++;
    if (connection.subscriptions.size === 0) this.subscribedConnections++;
    connection.subscriptions.set(name, { channel, data, userKey });

    let newMember = false;
    if (channel.members && userKey !== null) {
      const member = channel.members.get(userKey);
      if (member) member.sockets++;
      else {
        channel.members.set(userKey, { id: data!.user_id, info: data!.user_info, sockets: 1 });
        newMember = true;
      }
      this.addUserSocket(userKey, connection);
    }
    return { channel, newMember };
  }

  /** Forgets a subscription; returns the member whose last socket left, if any. */
  unsubscribe(connection: Connection, name: string): { channel: Channel; removedMember: Member | null } | null {
    const subscription = connection.subscriptions.get(name);
    if (!subscription) return null;
    const { channel, userKey } = subscription;
    connection.subscriptions.delete(name);
    if (connection.subscriptions.size === 0) this.subscribedConnections--;
    if (--channel.subscribers === 0) this.channels.delete(name);

    let removedMember: Member | null = null;
    if (channel.members && userKey !== null) {
      const member = channel.members.get(userKey)!;
      if (--member.sockets === 0) {
        channel.members.delete(userKey);
        removedMember = member;
      }
      this.removeUserSocket(userKey, connection);
    }
    return { channel, removedMember };
  }

  /** The sockets of a presence user, for `terminate_connections`. */
  socketsOfUser(userKey: string): Connection[] {
    return [...(this.userSockets.get(userKey)?.keys() ?? [])];
  }

  private addUserSocket(userKey: string, connection: Connection): void {
    let sockets = this.userSockets.get(userKey);
    if (!sockets) this.userSockets.set(userKey, (sockets = new Map()));
    sockets.set(connection, (sockets.get(connection) ?? 0) + 1);
  }

  private removeUserSocket(userKey: string, connection: Connection): void {
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
      const app = new AppState(config);
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
