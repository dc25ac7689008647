import Pusher from "pusher";
import { APP } from "./server.ts";

/** One request as the receiver saw it, checked with the official SDK's validator. */
export interface ReceivedWebhook {
  readonly headers: Record<string, string>;
  readonly rawBody: string;
  /** `pusher.webhook({headers, rawBody}).isValid()` with the app's key and secret. */
  readonly valid: boolean;
  readonly timeMs: number;
  readonly events: Array<Record<string, unknown>>;
  readonly at: number;
  readonly status: number;
}

/** What to answer a request with: a status, or `"hang"` to answer nothing until the client gives up. */
export type Reply = number | "hang";

/**
 * A real HTTP server on 127.0.0.1 standing in for a Laravel webhook route. `reply` picks each
 * answer (by request number, from 0); every request is validated as Pusher's SDK does it.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Every request, answered or not. */
  requests = 0;
  private readonly server: ReturnType<typeof Bun.serve>;
  private readonly pusher: Pusher;

  constructor(
    private readonly reply: (index: number) => Reply = () => 200,
    app: { app_id: string; key: string; secret: string } = APP,
  ) {
    this.pusher = new Pusher({ appId: app.app_id, key: app.key, secret: app.secret, host: "127.0.0.1" });
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        const index = this.requests++;
        const rawBody = await request.text();
        const answer = this.reply(index);
        if (answer === "hang") return new Promise<Response>(() => {});
        const headers: Record<string, string> = {};
        request.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
        const webhook = this.pusher.webhook({ headers, rawBody });
        const valid = webhook.isValid();
        this.received.push({
          headers,
          rawBody,
          valid,
          timeMs: valid ? webhook.getTime().getTime() : 0,
          events: valid ? (webhook.getEvents() as unknown as Array<Record<string, unknown>>) : [],
          at: Date.now(),
          status: answer,
        });
        return new Response(null, { status: answer });
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}/pusher/webhooks`;
  }

  /** Events of answered (2xx) requests, in arrival order. */
  events(name?: string): Array<Record<string, unknown>> {
    const all = this.received.filter((request) => request.status < 300).flatMap((request) => request.events);
    return name === undefined ? all : all.filter((event) => event.name === name);
  }

  stop(): void {
    void this.server.stop(true);
  }
}
