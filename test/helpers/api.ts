import Pusher from "pusher";
import PusherJS from "pusher-js";
import { signChannel } from "../../src/protocol/signatures.ts";
import { APP, type TestServer } from "./server.ts";
import { until, within } from "./waits.ts";

/** Shared pieces of the HTTP API tests: the official server SDK and a pusher-js subscriber. */

export interface AppCredentials {
  readonly app_id: string;
  readonly key: string;
  readonly secret: string;
}

/** The official `pusher` server SDK, pointed at the test server. */
export function sdkFor(server: TestServer, app: AppCredentials = APP): Pusher {
  return new Pusher({ appId: app.app_id, key: app.key, secret: app.secret, host: "127.0.0.1", port: String(server.port), useTLS: false });
}

export interface ReceivedEvent {
  channel: string;
  event: string;
  data: unknown;
}

/** A pusher-js client as a browser would run it, authorizing private/presence channels locally. */
export class JsClient {
  readonly pusher: PusherJS;
  /** Every channel event pusher-js handed to the app, `pusher:` internals excluded. */
  readonly events: ReceivedEvent[] = [];
  private readonly channelData = new Map<string, string>();

  private constructor(server: TestServer, app: AppCredentials) {
    this.pusher = new PusherJS(app.key, {
      cluster: "",
      wsHost: "127.0.0.1",
      wsPort: server.port,
      forceTLS: false,
      enabledTransports: ["ws"],
      channelAuthorization: {
        transport: "ajax",
        endpoint: "/unused",
        customHandler: ({ socketId, channelName }, callback) => {
          const channelData = this.channelData.get(channelName) ?? null;
          callback(null, {
            auth: signChannel(app.key, app.secret, socketId, channelName, channelData),
            ...(channelData === null ? {} : { channel_data: channelData }),
          });
        },
      },
    });
  }

  static async connect(server: TestServer, app: AppCredentials = APP): Promise<JsClient> {
    const client = new JsClient(server, app);
    await within(
      new Promise<void>((resolve) => client.pusher.connection.bind("connected", () => resolve())),
      "pusher-js to connect",
    );
    return client;
  }

  get socketId(): string {
    return this.pusher.connection.socket_id;
  }

  /** Subscribes and waits for `pusher:subscription_succeeded`; `channelData` makes it a presence member. */
  async subscribe(channel: string, channelData?: Record<string, unknown>): Promise<void> {
    if (channelData) this.channelData.set(channel, JSON.stringify(channelData));
    const subscription = this.pusher.subscribe(channel);
    subscription.bind_global((event: string, data: unknown) => {
      if (!event.startsWith("pusher:")) this.events.push({ channel, event, data });
    });
    await within(
      new Promise<void>((resolve) => subscription.bind("pusher:subscription_succeeded", () => resolve())),
      `pusher-js subscription to ${channel}`,
    );
  }

  async next(event: string, channel?: string): Promise<ReceivedEvent> {
    const matches = (received: ReceivedEvent) => received.event === event && (channel === undefined || received.channel === channel);
    await until(() => this.events.some(matches), `pusher-js event ${event}`);
    return this.events.find(matches)!;
  }

  disconnect(): void {
    this.pusher.disconnect();
  }
}
