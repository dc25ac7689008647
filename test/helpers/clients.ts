import Echo from "laravel-echo";
import Pusher from "pusher-js";
import { createHash } from "node:crypto";
import { signChannel } from "../../src/protocol/signatures.ts";
import { RawClient } from "./raw-client.ts";
import { signedFetch } from "./signing.ts";
import { APP, type TestServer } from "./server.ts";
import { within } from "./waits.ts";

/** The master key of encrypted channels; only clients and the API caller know it, never the server. */
export const ENCRYPTION_MASTER_KEY = Buffer.alloc(32, 7);

export interface PresenceUser {
  user_id: unknown;
  user_info?: unknown;
}

export interface ClientOptions {
  key?: string;
  secret?: string;
  /** channel_data sent for presence channels. */
  user?: PresenceUser;
}

/** What a Laravel auth endpoint would answer, signed with the app secret. */
function authorize(options: ClientOptions, socketId: string, channel: string) {
  const secret = options.secret ?? APP.secret;
  const key = options.key ?? APP.key;
  const channelData = channel.startsWith("presence") ? JSON.stringify(options.user ?? { user_id: 1 }) : null;
  return {
    auth: signChannel(key, secret, socketId, channel, channelData),
    ...(channelData === null ? {} : { channel_data: channelData }),
    ...(channel.startsWith("private-encrypted-")
      ? { shared_secret: createHash("sha256").update(Buffer.concat([Buffer.from(channel), ENCRYPTION_MASTER_KEY])).digest("base64") }
      : {}),
  };
}

/** pusher-js options pointing at the test server, with an in-process channel authorizer. */
export function pusherOptions(server: TestServer, options: ClientOptions = {}) {
  return {
    wsHost: "127.0.0.1",
    wsPort: server.port,
    wsPath: server.config.server.path,
    forceTLS: false,
    enabledTransports: ["ws" as const],
    cluster: "",
    disableStats: true,
    channelAuthorization: {
      endpoint: "",
      transport: "ajax" as const,
      customHandler: (
        params: { socketId: string; channelName: string },
        callback: (error: Error | null, data: ReturnType<typeof authorize> | null) => void,
      ) => callback(null, authorize(options, params.socketId, params.channelName)),
    },
  };
}

/**
 * Every raw, pusher-js and Echo client a test opens, so that `disconnectAll()` in `afterEach`
 * closes them whatever the test did.
 */
export class Clients {
  private readonly open: Array<{ disconnect(): void }> = [];

  /** Registers a client the test built itself. */
  track<T extends { disconnect(): void }>(client: T): T {
    this.open.push(client);
    return client;
  }

  async raw(url: string, headers?: Record<string, string>): Promise<RawClient> {
    const client = await RawClient.connect(url, headers);
    this.open.push({ disconnect: () => client.ws.terminate() });
    return client;
  }

  async pusher(server: TestServer, options: ClientOptions = {}): Promise<Pusher> {
    const client = new Pusher(options.key ?? APP.key, pusherOptions(server, options));
    this.open.push(client);
    await within(
      new Promise<void>((resolve) => client.connection.bind("connected", () => resolve())),
      "pusher-js to connect",
    );
    return client;
  }

  async echo(server: TestServer, options: ClientOptions = {}): Promise<Echo<"reverb">> {
    const echo = new Echo({ broadcaster: "reverb", key: options.key ?? APP.key, Pusher, ...pusherOptions(server, options) });
    this.open.push(echo);
    const connection = echo.connector.pusher.connection;
    await within(
      new Promise<void>((resolve) => {
        if (connection.state === "connected") resolve();
        else connection.bind("connected", () => resolve());
      }),
      "Echo to connect",
    );
    return echo;
  }

  disconnectAll(): void {
    for (const client of this.open.splice(0)) client.disconnect();
  }
}

/** `POST /apps/{id}/events`, signed as pusher-http-php signs it; throws unless the API says 200. */
export async function triggerEvent(
  server: TestServer,
  body: { name: string; data: string; channel?: string; channels?: string[]; socket_id?: string },
  app: { app_id: string; key: string; secret: string } = APP,
): Promise<void> {
  const response = await signedFetch(server.url, "POST", `/apps/${app.app_id}/events`, body, { key: app.key, secret: app.secret });
  if (response.status !== 200) throw new Error(`trigger failed: ${response.status} ${await response.text()}`);
}
