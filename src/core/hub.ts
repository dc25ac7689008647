import { channelKind, type ChannelKind } from "../protocol/channels.ts";
import { ERROR_FRAMES, CloseCode, PusherError, type PusherErrorName } from "../protocol/errors.ts";
import {
  PING_FRAME,
  PONG_FRAME,
  cacheMissFrame,
  connectionEstablishedFrame,
  signinSuccessFrame,
  subscriptionSucceededFrame,
} from "../protocol/frames.ts";
import { parseChannelData, parseClientMessage, type ClientMessage } from "../protocol/messages.ts";
import { verifyChannelAuth, verifyUserAuth } from "../protocol/signatures.ts";
import { MAX_WATCHLIST, parseUserData, serverToUserChannel } from "../protocol/user-data.ts";
import type { AppRegistry, AppState } from "./app-state.ts";
import type { Channel } from "./channel.ts";
import type { Connection, Subscription } from "./connection.ts";
import type { Publisher, Socket } from "./socket.ts";
import { asNodeStats, localCounts, withRemotes, type FleetStats } from "./fleet-stats.ts";
import { Presence, SIGNED_IN } from "./presence.ts";
import { SubscriptionCounts } from "./subscription-counts.ts";
import { Watchlist } from "./watchlist.ts";
import { localBus, type Bus, type BusSink, type NodeStats, type OccupancySnapshot, type PresenceSnapshot } from "../bus/bus.ts";
import { NO_HOOKS, type ChannelHooks } from "./hooks.ts";
import type { Logger } from "../log.ts";

export interface HubOptions {
  apps: AppRegistry;
  log: Logger;
  /** The fleet; the local bus when scaling is off. */
  bus?: Bus;
  clock?: () => number;
  /** Webhooks; none by default. */
  hooks?: ChannelHooks;
}

/** Whether `text` is over `max` UTF-8 bytes, without encoding it when its length decides. */
function overByteLimit(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return Buffer.byteLength(text) > max;
}

/** A channel name as log lines show it: names can be many kilobytes long. */
function logName(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}… (${name.length} characters)` : name;
}

const INVALID_USER = Symbol("invalid user_id");

const ANSWERABLE = Promise.resolve();

/** A subscription's answer (or signin's), waiting until its channel's events reach this node. */
interface HeldAnswer {
  readonly name: string;
  ready: boolean;
  /** The socket left the channel first: it is owed nothing. */
  cancelled: boolean;
  readonly answer: (channel: Channel) => void;
}

/**
 * The roster key of a presence subscriber: `String(user_id)`, which is why only strings and
 * numbers are accepted (Pusher's rule; an object's `toString` is the client's to define). No
 * `user_id` at all, or an empty one, subscribes without membership as Reverb does.
 */
function presenceUserKey(data: Record<string, unknown> | null): string | null | typeof INVALID_USER {
  const userId = data?.user_id;
  if (userId === undefined || userId === "") return null;
  if (typeof userId === "string") return userId;
  if (typeof userId === "number") return String(userId);
  return INVALID_USER;
}

/** Pusher counts every channel but presence (which has member events) and the server's `#` channels. */
function countsSubscribers(name: string, presence: boolean): boolean {
  return !presence && !name.startsWith("#");
}

function userIdOf(connection: Connection, subscription: Subscription): unknown {
  const own = subscription.data?.user_id;
  if (own) return own;
  for (const other of connection.subscriptions()) {
    if (other.data?.user_id) return other.data.user_id;
  }
  return undefined;
}

/**
 * The server core: decides what every inbound frame means and what goes out. It owns no socket
 * code; it talks to connections through `Socket`, to topics through the `Publisher`, and to the
 * other nodes through the `Bus`, whose messages come back in through the `BusSink` methods.
 */
export class Hub implements BusSink {
  readonly apps: AppRegistry;
  readonly bus: Bus;
  private readonly nodeId: string;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly presence: Presence;
  private readonly hooks: ChannelHooks;
  private readonly watchlist: Watchlist;
  private readonly counts: SubscriptionCounts;
  private publisher: Publisher | null = null;
  /**
   * Replies to connections with an answer still waiting for the bus (`Bus.interest`), in the
   * order the client asked: a reply to a later message never overtakes an earlier one.
   */
  private readonly held = new Map<Connection, Array<string | HeldAnswer>>();

  constructor(options: HubOptions) {
    this.apps = options.apps;
    this.log = options.log;
    this.bus = options.bus ?? localBus;
    this.nodeId = this.bus.nodeId;
    this.clock = options.clock ?? Date.now;
    this.hooks = options.hooks ?? NO_HOOKS;
    this.watchlist = new Watchlist(
      (connection, frame) => this.send(connection, frame),
      (topic, frame) => this.publisher!.publish(topic, frame),
    );
    this.counts = new SubscriptionCounts(this.apps, this.nodeId, this.bus, (app, channel, frame) => this.fanOut(app, channel, frame, undefined, false), this.clock);
    this.presence = new Presence(
      this.apps,
      this.nodeId,
      this.bus,
      this.hooks,
      (app, channel, frame, except) => this.fanOut(app, channel, frame, except, false),
      (app, user, online) => this.watchlist.announce(app, user, online),
      (error) => this.log.error(`Announcing a member_removed failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
    );
  }

  /** The transport's topic publisher, known once it is listening. */
  attach(publisher: Publisher): void {
    this.publisher = publisher;
  }

  /** Sends the error and closes with its code: the refusals of Decision 1. */
  refuse(socket: Socket, error: PusherErrorName): void {
    socket.send(ERROR_FRAMES[error]);
    socket.close(PusherError[error].code, PusherError[error].message);
  }

  open(connection: Connection): void {
    const app = connection.app;
    const max = app.config.max_connections;
    if (max !== null && app.connections.size + this.bus.remoteConnections(app.id) >= max) {
      this.log.warn(`Connection refused: app ${app.id} is at max_connections (${max})`);
      this.refuse(connection.socket, "overQuota");
      return;
    }
    connection.established = true;
    connection.socketId = app.connections.add(connection);
    const timeout = app.config.user_authentication_timeout;
    if (timeout !== null) connection.authorizationTimer = setTimeout(() => this.authorizationExpired(connection), timeout * 1000);
    if (this.log.debugging) this.log.debug("Connection Established", `${connection.socketId} app ${app.id}`);
    this.send(connection, connectionEstablishedFrame(connection.socketId, app.config.activity_timeout));
  }

  close(connection: Connection): void {
    if (!connection.established) return;
    connection.established = false;
    const app = connection.app;
    this.clearAuthorizationTimer(connection);
    for (const subscription of connection.subscriptions()) this.leave(connection, subscription.channel.name, false);
    if (connection.userId !== null) this.signOut(connection, connection.userId);
    this.held.delete(connection);
    app.connections.delete(connection);
    if (this.log.debugging) this.log.debug("Connection Closed", `${connection.socketId} app ${app.id}`);
  }

  /** A WS ping or pong frame from the client: activity, and how to ping it from now on. */
  control(connection: Connection): void {
    connection.usesControlFrames = true;
    connection.touch(this.clock());
  }

  message(connection: Connection, text: string): void {
    const now = this.clock();
    connection.touch(now);
    if (!connection.established) return;
    const app = connection.app;
    app.messagesReceived++;
    if (this.log.debugging) this.log.debug("Message Received", `${connection.socketId} app ${app.id} ${text.slice(0, 500)}`);

    const maxSize = app.config.max_message_size;
    if (maxSize !== 0 && overByteLimit(text, maxSize)) {
      this.log.warn(`Message over max_message_size from ${connection.socketId} (app ${app.id}): closing with 1009`);
      connection.socket.close(CloseCode.messageTooBig, "Maximum message size exceeded");
      return;
    }
    if (app.config.rate_limiting.enabled && this.rateLimited(connection, now)) return;

    const message = parseClientMessage(text);
    switch (message.type) {
      case "subscribe":
        return this.subscribe(connection, message);
      case "unsubscribe":
        return this.leave(connection, message.channel, true);
      case "ping":
        return this.send(connection, PONG_FRAME);
      case "pong":
      case "ignored":
        return;
      case "reestablish":
        return this.send(connection, connectionEstablishedFrame(connection.socketId, app.config.activity_timeout));
      case "client-event":
        return this.clientEvent(connection, message);
      case "signin":
        return this.signin(connection, message);
      case "invalid":
        this.log.warn(`Invalid message from ${connection.socketId} (app ${app.id}): ${message.reason}`);
        return this.sendError(connection, "invalidMessage");
    }
  }

  /**
   * Delivers one serialized frame to a channel's subscribers on every node, skipping the socket
   * `exceptSocketId` wherever it is. Every event, from the HTTP API or a client, goes through here.
   */
  deliver(app: AppState, channel: string, frame: string, exceptSocketId: string | null): void {
    this.fanOut(app, channel, frame, exceptSocketId === null ? undefined : app.connections.get(exceptSocketId));
    this.bus.event(app.id, channel, frame, exceptSocketId);
  }

  /** An event from another node. */
  deliverLocal(appId: string, channel: string, frame: string, exceptSocketId: string | null): void {
    const app = this.apps.findById(appId);
    if (app) this.fanOut(app, channel, frame, exceptSocketId === null ? undefined : app.connections.get(exceptSocketId));
  }

  /**
   * Closes every connection of a presence or signed-in user on every node; cleanup sends
   * `member_removed` and watchlist `offline`.
   */
  terminateUser(app: AppState, userId: string): number {
    this.bus.terminate(app.id, userId);
    return this.terminateLocal(app.id, userId);
  }

  terminateLocal(appId: string, userId: string): number {
    const sockets = this.apps.findById(appId)?.socketsOfUser(userId) ?? [];
    for (const connection of sockets) connection.socket.terminate();
    return sockets.length;
  }

  /** Subscribed sockets and subscribers per channel, summed over the fleet; walked in slices. */
  async stats(app: AppState, names: string[] | null, prefix: string | null): Promise<FleetStats> {
    const [local, remotes] = await Promise.all([localCounts(app, names, prefix), this.bus.gatherStats(app.id, names, prefix)]);
    return withRemotes(local, remotes);
  }

  /** This node's share of another node's query. */
  async localStats(appId: string, names: string[] | null, prefix: string | null): Promise<NodeStats> {
    const app = this.apps.findById(appId);
    return app ? asNodeStats(await localCounts(app, names, prefix)) : { connections: 0, channels: {} };
  }

  remoteJoin(node: string, appId: string, channel: string, user: string, data: Record<string, unknown>): void {
    const app = this.apps.findById(appId);
    if (app) this.presence.joined(app, channel, node, user, data, undefined);
  }

  remoteLeave(node: string, appId: string, channel: string, user: string): void {
    const app = this.apps.findById(appId);
    if (app) this.presence.left(app, channel, node, user);
  }

  replaceNode(node: string, snapshot: PresenceSnapshot | null, occupancy: OccupancySnapshot = []): void {
    this.presence.replaceNode(node, snapshot);
    this.hooks.replaceNode(node, snapshot === null ? null : occupancy);
    if (snapshot === null) this.counts.dropNode(node);
    else this.counts.resendSoon();
  }

  remoteOccupancy(node: string, appId: string, channel: string, count: number): void {
    this.hooks.remoteCount(node, appId, channel, count);
  }

  remoteSubscriptionCount(node: string, appId: string, channel: string, count: number): void {
    this.counts.remote(node, appId, channel, count);
  }

  occupancySnapshot(): OccupancySnapshot {
    return this.hooks.snapshot();
  }

  presenceSnapshot(): PresenceSnapshot {
    return this.presence.snapshot();
  }

  connectionCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const app of this.apps.all()) counts[app.id] = app.connections.size;
    return counts;
  }

  /** Pings silent connections and closes those that left a ping unanswered (4201). */
  sweep(): void {
    const now = this.clock();
    for (const app of this.apps.all()) {
      const interval = app.config.ping_interval * 1000;
      for (const connection of app.connections.values()) {
        if (connection.pingedAt !== 0) {
          if (now - connection.pingedAt >= interval) this.prune(connection);
        } else if (now - connection.lastSeen >= interval) {
          connection.pingedAt = now;
          if (connection.usesControlFrames) connection.socket.ping();
          else connection.socket.send(PING_FRAME);
          if (this.log.debugging) this.log.debug("Connection Pinged", connection.socketId);
        }
      }
      app.cache.prune(now);
    }
  }

  /** Closes every connection with `code`, e.g. 4200 so pusher-js reconnects at once. */
  closeAll(code: number, reason: string): void {
    for (const app of this.apps.all()) {
      for (const connection of app.connections.values()) connection.socket.close(code, reason);
    }
  }

  private prune(connection: Connection): void {
    if (this.log.debugging) this.log.debug("Connection Pruned", connection.socketId);
    this.refuse(connection.socket, "pongTimeout");
  }

  private send(connection: Connection, frame: string): void {
    if (this.held.size !== 0) {
      const queue = this.held.get(connection);
      if (queue) {
        queue.push(frame);
        return;
      }
    }
    this.write(connection, frame);
  }

  private write(connection: Connection, frame: string): void {
    connection.socket.send(frame);
    connection.app.messagesSent++;
    if (this.log.debugging) this.log.debug("Message Sent", `${connection.socketId} ${frame.slice(0, 500)}`);
  }

  private sendError(connection: Connection, error: PusherErrorName): void {
    this.send(connection, ERROR_FRAMES[error]);
  }

  /** Reverb's fixed window per connection; every text frame counts, WS control frames do not. */
  private rateLimited(connection: Connection, now: number): boolean {
    const limits = connection.app.config.rate_limiting;
    if (connection.takeFrame(now, limits.max_attempts, limits.decay_seconds * 1000)) return false;
    this.log.warn(`Rate limit hit by ${connection.socketId} (app ${connection.app.id})`);
    if (limits.terminate_on_limit) this.refuse(connection.socket, "rateLimited");
    else this.sendError(connection, "rateLimited");
    return true;
  }

  private subscribe(connection: Connection, message: Extract<ClientMessage, { type: "subscribe" }>): void {
    const app = connection.app;
    const { channel: name, channelData } = message;
    if (this.overNameLimit(connection, name)) return;
    if (name.startsWith("#") && (connection.userId === null || name !== serverToUserChannel(connection.userId))) {
      this.log.warn(`Subscription refused: ${connection.socketId} (app ${app.id}) asked for reserved channel ${logName(name)}`);
      return this.sendError(connection, "reservedChannel");
    }
    const kind = channelKind(name);
    if (kind.authenticated && !verifyChannelAuth(app.key, app.secret, connection.socketId, name, channelData, message.auth)) {
      this.log.warn(`Subscription refused: bad auth from ${connection.socketId} for ${logName(name)} (app ${app.id})`);
      return this.sendError(connection, "unauthorized");
    }
    if (kind.authenticated) this.clearAuthorizationTimer(connection);

    let joined: Channel | null = null;
    let ready: Promise<void> | null = null;
    if (!connection.subscription(name)) {
      const maxChannels = app.config.max_channels_per_connection;
      if (maxChannels !== null && connection.subscriptionCount >= maxChannels) {
        this.log.warn(`Subscription refused: ${connection.socketId} (app ${app.id}) is on max_channels_per_connection (${maxChannels}) channels; refused ${logName(name)}`);
        return this.sendError(connection, "tooManyChannels");
      }
      const maxMemberSize = app.config.max_presence_member_size;
      if (kind.presence && maxMemberSize !== null && channelData !== null && overByteLimit(channelData, maxMemberSize)) {
        this.log.warn(`Subscription refused: ${connection.socketId} (app ${app.id}) sent channel_data over max_presence_member_size (${maxMemberSize} bytes) for ${logName(name)}`);
        return this.sendError(connection, "memberTooLarge");
      }
      const data = parseChannelData(channelData);
      const userKey = kind.presence ? presenceUserKey(data) : null;
      if (userKey === INVALID_USER) {
        this.log.warn(`Subscription refused: ${connection.socketId} (app ${app.id}) sent a presence user_id that is neither a string nor a number for ${logName(name)}`);
        return this.sendError(connection, "invalidUserId");
      }
      const maxMembers = app.config.max_presence_members;
      if (userKey !== null && maxMembers !== null && this.presence.isFull(app, name, userKey, maxMembers)) {
        this.log.warn(`Subscription refused: ${logName(name)} (app ${app.id}) has max_presence_members (${maxMembers}) members; refused ${connection.socketId}`);
        return this.sendError(connection, "presenceFull");
      }
      joined = app.subscribe(connection, name, kind, data, userKey);
      ready = this.interest(connection, joined);
      // Before the member: Pusher sends channel_occupied ahead of member_added.
      if (app.config.webhooks.length !== 0) this.hooks.countChanged(app, name, joined.subscribers);
      if (userKey !== null) this.presence.joined(app, name, this.nodeId, userKey, data!, connection);
    } else if (this.isHeld(connection, name)) {
      return;
    }

    const counted = joined !== null && app.config.subscription_count && countsSubscribers(name, kind.presence);
    if (ready !== null) {
      // The other nodes learn the count now; the subscriber, on no topic yet, with its answer.
      if (counted) this.counts.changed(app, name, joined!.subscribers);
      return this.hold(connection, name, ready, (channel) => {
        connection.socket.subscribe(channel.topic);
        this.send(connection, this.succeededFrame(app, name, kind));
        const count = counted ? this.counts.frameFor(app, name) : null;
        if (count !== null) this.send(connection, count);
        this.sendCached(connection, name, kind);
      });
    }
    this.send(connection, this.succeededFrame(app, name, kind));
    if (counted) this.counts.changed(app, name, joined!.subscribers);
    this.sendCached(connection, name, kind);
  }

  /**
   * A new subscription: on the channel's topic now, or null once the bus makes sure the channel's
   * events reach this node. Until then the socket is on no topic, so nothing reaches it on the
   * channel before its answer, as when the answer is immediate.
   */
  private interest(connection: Connection, channel: Channel): Promise<void> | null {
    let ready = this.bus.interest(connection.app.id, channel.name);
    // Behind a held answer this one is held too, so that it keeps its place.
    if (ready === null && this.held.size !== 0 && this.held.has(connection)) ready = ANSWERABLE;
    if (ready === null) connection.socket.subscribe(channel.topic);
    return ready;
  }

  private succeededFrame(app: AppState, name: string, kind: ChannelKind): string {
    return subscriptionSucceededFrame(name, kind.presence ? this.presence.succeededData(app, name) : "{}");
  }

  private sendCached(connection: Connection, name: string, kind: ChannelKind): void {
    if (!kind.cache) return;
    const app = connection.app;
    const cached = app.cache.get(name, this.clock());
    this.send(connection, cached ?? cacheMissFrame(name));
    if (cached === null && app.config.webhooks.length !== 0) this.hooks.cacheMiss(app, name);
  }

  /** Queues `answer` behind the connection's earlier replies, to go out once `ready` resolves and they have. */
  private hold(connection: Connection, name: string, ready: Promise<void>, answer: (channel: Channel) => void): void {
    const held: HeldAnswer = { name, ready: false, cancelled: false, answer };
    const queue = this.held.get(connection);
    if (queue) queue.push(held);
    else this.held.set(connection, [held]);
    void ready.then(() => {
      held.ready = true;
      this.release(connection);
    });
  }

  /** Sends the connection's held replies up to the first answer still waiting. */
  private release(connection: Connection): void {
    const queue = this.held.get(connection);
    if (!queue) return;
    // What the answers send goes straight out: it is at the head of the queue.
    this.held.delete(connection);
    let next = 0;
    for (; next < queue.length; next++) {
      const item = queue[next]!;
      if (typeof item === "string") this.write(connection, item);
      else if (item.cancelled) continue;
      else if (!item.ready) break;
      else item.answer(connection.subscription(item.name)!.channel);
    }
    if (next < queue.length) this.held.set(connection, queue.slice(next));
  }

  private isHeld(connection: Connection, name: string): boolean {
    return this.held.get(connection)?.some((item) => typeof item !== "string" && item.name === name && !item.cancelled) ?? false;
  }

  private cancelHeld(connection: Connection, name: string): void {
    const queue = this.held.get(connection);
    if (!queue) return;
    for (const item of queue) if (typeof item !== "string" && item.name === name) item.cancelled = true;
    this.release(connection);
  }

  private leave(connection: Connection, name: string, socketOpen: boolean): void {
    const app = connection.app;
    const left = app.unsubscribe(connection, name);
    if (!left) return;
    if (this.held.size !== 0) this.cancelHeld(connection, name);
    if (socketOpen) connection.socket.unsubscribe(left.channel.topic);
    if (left.channel.subscribers === 0) this.bus.noInterest(app.id, name);
    if (left.userKey !== null) this.presence.left(app, name, this.nodeId, left.userKey);
    // After the member: member_removed goes ahead of channel_vacated, as Pusher sends them.
    if (app.config.webhooks.length !== 0) this.hooks.countChanged(app, name, left.channel.subscribers);
    if (app.config.subscription_count && countsSubscribers(name, left.channel.kind.presence)) this.counts.changed(app, name, left.channel.subscribers);
  }

  /**
   * `pusher:signin`: a bad signature, bad `user_data` or another user on a signed-in socket is
   * refused with 4009 and a close, as Pusher does. Signed in, the socket is on its user's
   * `#server-to-user-<id>` channel, counted in the fleet's signed-in roster, and watching.
   */
  private signin(connection: Connection, message: Extract<ClientMessage, { type: "signin" }>): void {
    const app = connection.app;
    const { userData } = message;
    if (userData === null || !verifyUserAuth(app.key, app.secret, connection.socketId, userData, message.auth)) {
      this.log.warn(`Signin refused: bad auth from ${connection.socketId} (app ${app.id})`);
      return this.refuse(connection.socket, "signinUnauthorized");
    }
    const user = parseUserData(userData);
    if (user === null) {
      this.log.warn(`Signin refused: ${connection.socketId} (app ${app.id}) sent user_data without a non-empty string id or with a bad watchlist`);
      return this.refuse(connection.socket, "signinBadUserData");
    }
    if (connection.userId !== null) {
      if (connection.userId === user.id) return this.send(connection, signinSuccessFrame(userData));
      this.log.warn(`Signin refused: ${connection.socketId} (app ${app.id}) is signed in as another user`);
      return this.refuse(connection.socket, "signinOtherUser");
    }

    connection.userId = user.id;
    this.clearAuthorizationTimer(connection);
    app.addUserSocket(user.id, connection);
    const name = serverToUserChannel(user.id);
    // Like a subscription, signin_success waits until the user's channel reaches this node, so a
    // message sent to the user after it is not lost.
    let ready: Promise<void> | null = null;
    if (!connection.subscription(name)) ready = this.interest(connection, app.subscribe(connection, name, channelKind(name), null, null));
    if (ready === null) this.send(connection, signinSuccessFrame(userData));
    else {
      this.hold(connection, name, ready, (channel) => {
        connection.socket.subscribe(channel.topic);
        this.send(connection, signinSuccessFrame(userData));
      });
    }
    this.presence.joined(app, SIGNED_IN, this.nodeId, user.id, { user_id: user.id }, undefined);
    if (user.watchlist === undefined) return;
    if (user.watchlist.length > MAX_WATCHLIST) {
      this.log.warn(`Watchlist of user ${logName(user.id)} (app ${app.id}) has ${user.watchlist.length} ids; only the first ${MAX_WATCHLIST} are watched`);
      this.sendError(connection, "watchlistTooLong");
    }
    this.watchlist.watch(app, connection, user.watchlist.slice(0, MAX_WATCHLIST), (id) => app.rosters.get(SIGNED_IN)?.members.has(id) ?? false);
  }

  private signOut(connection: Connection, userId: string): void {
    const app = connection.app;
    app.removeUserSocket(userId, connection);
    this.watchlist.unwatch(connection);
    this.presence.left(app, SIGNED_IN, this.nodeId, userId);
    connection.userId = null;
  }

  /** Signed in, on a private or presence channel, or gone: `user_authentication_timeout` is met. */
  private clearAuthorizationTimer(connection: Connection): void {
    if (connection.authorizationTimer === null) return;
    clearTimeout(connection.authorizationTimer);
    connection.authorizationTimer = null;
  }

  private authorizationExpired(connection: Connection): void {
    connection.authorizationTimer = null;
    if (!connection.established) return;
    this.log.warn(`Connection ${connection.socketId} (app ${connection.app.id}) neither signed in nor joined a private or presence channel within user_authentication_timeout: closing with 4009`);
    this.refuse(connection.socket, "notAuthorizedInTime");
  }

  /** `max_channel_name_length`: refused with 4300, the socket stays open. */
  private overNameLimit(connection: Connection, name: string): boolean {
    const max = connection.app.config.max_channel_name_length;
    if (max === null || name.length <= max) return false;
    this.log.warn(`Refused: ${connection.socketId} (app ${connection.app.id}) named a channel over max_channel_name_length (${max}): ${logName(name)}`);
    this.sendError(connection, "channelNameTooLong");
    return true;
  }

  /**
   * Hands one frame to uWS for every local subscriber of the channel: `ws.publish` skips the
   * sender, `server.publish` reaches all; a channel nobody here is on costs a map lookup. Member
   * events are not cached (Decision 2).
   */
  private fanOut(app: AppState, channel: string, frame: string, except: Connection | undefined, cacheable = true): void {
    if (cacheable && channelKind(channel).cache) app.cache.set(channel, frame, this.clock());
    const local = app.channels.get(channel);
    if (!local) return;
    if (this.log.debugging) this.log.debug("Broadcasting To", `${channel} app ${app.id} ${frame.slice(0, 500)}`);
    if (except) {
      except.socket.publish(local.topic, frame);
      app.messagesSent += local.subscribers - (except.subscription(channel) ? 1 : 0);
    } else {
      this.publisher!.publish(local.topic, frame);
      app.messagesSent += local.subscribers;
    }
  }

  private clientEvent(connection: Connection, message: Extract<ClientMessage, { type: "client-event" }>): void {
    const app = connection.app;
    const mode = app.config.accept_client_events_from;
    if (mode === "none") return this.sendError(connection, "clientEventsDisabled");
    if (this.overNameLimit(connection, message.channel)) return;
    const maxEvent = app.config.max_event_name_length;
    if (maxEvent !== null && message.event.length > maxEvent) {
      this.log.warn(`Client event refused: ${connection.socketId} (app ${app.id}) sent an event name over max_event_name_length (${maxEvent}): ${logName(message.event)}`);
      return this.sendError(connection, "eventNameTooLong");
    }
    if (message.channel.startsWith("#")) {
      this.log.warn(`Client event refused: ${connection.socketId} (app ${app.id}) sent to reserved channel ${logName(message.channel)}`);
      return this.sendError(connection, "reservedChannel");
    }

    let frame: string;
    if (mode === "members") {
      const subscription = connection.subscription(message.channel);
      if (!subscription) return this.sendError(connection, "notMember");
      const userId = userIdOf(connection, subscription);
      const { event, channel, data } = message;
      frame = JSON.stringify(userId === undefined ? { event, channel, data } : { event, channel, data, user_id: userId });
    } else {
      frame = JSON.stringify(message.message);
    }
    this.deliver(app, message.channel, frame, connection.socketId);
    if (app.config.webhooks.length !== 0) {
      const userKey = connection.subscription(message.channel)?.userKey ?? null;
      this.hooks.clientEvent(app, message.channel, message.event, message.data, connection.socketId, userKey);
    }
  }
}
