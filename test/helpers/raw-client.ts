import { signChannel } from "../../src/protocol/signatures.ts";
import { APP } from "./server.ts";

/** A plain WebSocket client for the frames pusher-js hides: errors, close codes, raw JSON. */
export interface Frame {
  event: string;
  data?: unknown;
  channel?: string;
  [key: string]: unknown;
}

export class RawClient {
  readonly ws: WebSocket;
  /** Every text frame received, in order, parsed. */
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  private constructor(url: string, headers?: Record<string, string>) {
    this.ws = new WebSocket(url, headers ? ({ headers } as unknown as string[]) : undefined);
    this.ws.addEventListener("message", (event) => {
      const text = String(event.data);
      this.raw.push(text);
      this.frames.push(JSON.parse(text) as Frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** Opens and waits for the first frame (connection_established or an error). */
  static async connect(url: string, headers?: Record<string, string>): Promise<RawClient> {
    const client = new RawClient(url, headers);
    await client.waitFor(() => client.frames.length > 0 || client.ws.readyState === WebSocket.CLOSED, "first frame");
    return client;
  }

  get socketId(): string {
    const established = this.frames.find((frame) => frame.event === "pusher:connection_established");
    if (!established) throw new Error("connection was not established");
    return (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  async waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${this.raw.join("\n")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame with this event (after `from`), waiting for it to arrive. */
  async next(event: string, from = 0, timeoutMs = 3000): Promise<Frame> {
    let found: Frame | undefined;
    await this.waitFor(() => {
      found = this.frames.slice(from).find((frame) => frame.event === event);
      return found !== undefined;
    }, `event ${event}`, timeoutMs);
    return found!;
  }

  count(event: string): number {
    return this.frames.filter((frame) => frame.event === event).length;
  }

  async subscribe(channel: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    const from = this.frames.length;
    this.send({ event: "pusher:subscribe", data: { channel, ...extra } });
    await this.waitFor(
      () => this.frames.slice(from).some((f) => f.event === "pusher_internal:subscription_succeeded" || f.event === "pusher:error"),
      `subscribe ${channel}`,
    );
    return this.frames.slice(from).find((f) => f.event === "pusher_internal:subscription_succeeded" || f.event === "pusher:error")!;
  }

  /** Subscribes with the auth an app's endpoint would sign; `channelData` for presence channels. */
  join(channel: string, channelData: object | null = null, app: { key: string; secret: string } = APP): Promise<Frame> {
    const data = channelData === null ? null : JSON.stringify(channelData);
    return this.subscribe(channel, { auth: signChannel(app.key, app.secret, this.socketId, channel, data), ...(data === null ? {} : { channel_data: data }) });
  }

  close(): void {
    this.ws.close();
  }
}

/** Resolves after `ms`; used only to show that something did NOT arrive. */
export const quiet = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms));
