import * as v from "valibot";
import type { HttpRequest, RequestUrl } from "./request.ts";
import type { AppState } from "../core/app-state.ts";
import { channelInfo, channelUsers, occupiedChannels, parseInfo } from "../core/channel-info.ts";
import type { Hub } from "../core/hub.ts";
import { channelKind } from "../protocol/channels.ts";
import { batchEventFrame, serverEventFrame } from "../protocol/frames.ts";
import type { Logger } from "../log.ts";
import type { HttpCounters } from "../metrics/http-counters.ts";
import { BatchBody, EventBody, errorBag, type BatchBodyOutput } from "./bodies.ts";
import { Pacer } from "../core/pacer.ts";
import { pacedArray, pacedObject } from "./paced-json.ts";
import { httpError, json, jsonBody, type Finish, type HttpAnswer } from "./responses.ts";
import type { Route } from "./routes.ts";
import { signatureProblem } from "./verify-signature.ts";

type ApiRoute = Exclude<Route, { name: "health" | "websocket" | "metrics" | "dashboard" | "dashboard_data" }>;

export interface ApiOptions {
  hub: Hub;
  log: Logger;
  /** The configured route prefix; signatures may cover the path with or without it. */
  prefix: string;
  maxRequestSize: number;
  http: HttpCounters;
  clock?: () => number;
}

const UTF8 = new TextDecoder();

/**
 * The signed HTTP API under `/apps/{id}`. It validates once and hands each event to the hub as
 * one serialized frame per channel; it never walks sockets.
 */
export function createApi(options: ApiOptions) {
  const { hub, log, prefix, maxRequestSize, http } = options;
  const clock = options.clock ?? Date.now;

  function reject(route: ApiRoute, request: HttpRequest, url: RequestUrl, status: number, error: string, detail = error): HttpAnswer {
    log.warn(`HTTP ${status} ${request.method} ${url.pathname}: ${detail}`);
    http.record(route.name, status);
    return httpError(status, error);
  }

  function readJson(text: string): { ok: true; value: unknown } | { ok: false } {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false };
    }
  }

  function trigger(app: AppState, channels: readonly string[], frameFor: (channel: string) => string, socketId: string | undefined): void {
    for (const channel of channels) hub.deliver(app, channel, frameFor(channel), socketId ?? null);
  }

  /** Attributes of each channel, counted across the fleet. */
  async function channelInfos(app: AppState, channels: string[], info: ReadonlySet<string>): Promise<Record<string, unknown>[]> {
    const stats = await hub.stats(app, channels, null);
    const now = clock();
    return channels.map((channel) => channelInfo(app, channel, info, stats.subscribersOf(channel), now));
  }

  async function eventsInfo(app: AppState, channels: string[], info: string): Promise<HttpAnswer> {
    const infos = await channelInfos(app, channels, parseInfo(info));
    return json({ channels: Object.fromEntries(channels.map((channel, index) => [channel, infos[index]])) });
  }

  async function batchInfo(app: AppState, batch: BatchBodyOutput["batch"]): Promise<HttpAnswer> {
    const stats = await hub.stats(app, batch.map((item) => item.channel), null);
    const now = clock();
    return json({ batch: batch.map((item) => (item.info === undefined ? {} : channelInfo(app, item.channel, parseInfo(item.info), stats.subscribersOf(item.channel), now))) });
  }

  /** Every occupied channel: built and serialized in slices, as an app may have 200k of them. */
  async function channelsInfo(app: AppState, url: RequestUrl): Promise<HttpAnswer> {
    const prefix = url.searchParams.get("filter_by_prefix");
    const stats = await hub.stats(app, null, prefix);
    const channels = occupiedChannels(app, parseInfo(url.searchParams.get("info")), stats, clock(), prefix?.startsWith("#") ?? false);
    return jsonBody(await pacedObject('{"channels":', channels, "}", new Pacer()));
  }

  async function usersInfo(users: Iterable<{ id: unknown }>): Promise<HttpAnswer> {
    return jsonBody(await pacedArray('{"users":', users, "}", new Pacer()));
  }

  /** Triggering answers at once; only routes that need the fleet's numbers wait for them. */
  function handlers(route: ApiRoute, app: AppState, url: RequestUrl, body: unknown): HttpAnswer | Promise<HttpAnswer> {
    switch (route.name) {
      case "events": {
        const parsed = v.safeParse(EventBody, body);
        if (!parsed.success) return json(errorBag(parsed.issues), 422);
        const event = parsed.output;
        const named = event.channels ?? [event.channel!];
        const channels = named.length === 1 ? named : [...new Set(named)];
        trigger(app, channels, (channel) => serverEventFrame(event.name, event.data, channel), event.socket_id);
        return event.info === undefined ? json({}) : eventsInfo(app, channels, event.info);
      }
      case "batch_events": {
        const parsed = v.safeParse(BatchBody, body);
        if (!parsed.success) return json(errorBag(parsed.issues), 422);
        const { batch } = parsed.output;
        for (const item of batch) {
          trigger(app, [item.channel], (channel) => batchEventFrame(item.name, channel, item.data), item.socket_id);
        }
        return batch.every((item) => item.info === undefined) ? json({ batch: {} }) : batchInfo(app, batch);
      }
      case "connections":
        return hub.stats(app, [], null).then((stats) => json({ connections: stats.connections }));
      case "channels":
        return channelsInfo(app, url);
      case "channel": {
        const info = new Set([...parseInfo(url.searchParams.get("info")), "occupied"]);
        return channelInfos(app, [route.channel], info).then(([attributes]) => json(attributes));
      }
      case "channel_users": {
        if (!channelKind(route.channel).presence) return json({}, 400);
        const users = channelUsers(app, route.channel);
        if (users === null) return json({}, 404);
        return usersInfo(users);
      }
      case "terminate_connections": {
        const closed = hub.terminateUser(app, route.userId);
        log.info(`Terminated ${closed} local connection(s) of user ${route.userId} in app ${app.id}`);
        return json({});
      }
    }
  }

  /**
   * One async step per request (reading the body); every answer is counted here or in `reject`,
   * then given to the transport's `finish`.
   */
  return async function handleApi<R>(route: ApiRoute, request: HttpRequest, url: RequestUrl, finish: Finish<R>): Promise<R> {
    const app = hub.apps.findById(route.appId);
    if (!app) return finish(reject(route, request, url, 404, `No matching application for ID [${route.appId}].`));

    // Headers are not counted: reading them makes Bun build a Headers object, the costliest step here.
    const body = await request.bytes();
    if (url.pathname.length + url.search.length + body.length > maxRequestSize) {
      return finish(reject(route, request, url, 413, "Payload too large."));
    }

    const problem = signatureProblem(app, {
      method: request.method,
      paths: prefix === "" ? [url.pathname] : [url.pathname.slice(prefix.length), url.pathname],
      search: url.search,
      body,
      nowMs: clock(),
    });
    if (problem) return finish(reject(route, request, url, 401, "Authentication signature invalid.", problem));

    let parsedBody: unknown = undefined;
    if (request.method === "POST") {
      const parsed = readJson(UTF8.decode(body));
      if (!parsed.ok) return finish(reject(route, request, url, 400, "Request body is not valid JSON."));
      parsedBody = parsed.value;
    }
    const pending = handlers(route, app, url, parsedBody);
    const answer = pending instanceof Promise ? await pending : pending;
    if (answer.status === 422) log.warn(`HTTP 422 ${request.method} ${url.pathname}: validation failed`);
    http.record(route.name, answer.status);
    return finish(answer);
  };
}
