import { wallMs } from "../lib/clock.ts";
import { readStamp } from "../lib/protocol.ts";
import type { Metrics } from "./metrics.ts";

interface Waiter {
  match: (frame: string) => boolean;
  resolve: (frame: string) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const ESTABLISHED = '{"event":"pusher:connection_established"';
const SUCCEEDED = '{"event":"pusher_internal:subscription_succeeded"';
const ERROR = '{"event":"pusher:error"';

/**
 * The least a load client needs from the Pusher protocol, on Bun's native WebSocket. Stamped
 * frames (the load) are timed without JSON parsing; only setup frames are parsed, and only one
 * reply is awaited at a time per socket.
 */
export class PusherSocket {
  socketId = "";
  /** The channel this socket joins, and what its subscribe carries (kept for churn re-joins). */
  channel: string | null = null;
  auth: string | null = null;
  channelData: string | null = null;
  private waiter: Waiter | null = null;
  private closing = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly metrics: Metrics,
  ) {
    ws.onmessage = (event) => this.onFrame(String(event.data));
    ws.onclose = (event) => {
      if (!this.closing) {
        metrics.closed++;
        metrics.firstError ??= `socket closed by server: ${event.code} ${event.reason}`;
      }
      this.settle(null, new Error(`socket closed: ${event.code} ${event.reason}`));
    };
  }

  /** Opens and waits for `connection_established`. */
  static async open(url: string, metrics: Metrics, timeoutMs: number): Promise<PusherSocket> {
    const socket = new PusherSocket(new WebSocket(url), metrics);
    try {
      const frame = await socket.await((text) => text.startsWith(ESTABLISHED), timeoutMs, "connection_established");
      const outer = JSON.parse(frame) as { data: string };
      socket.socketId = (JSON.parse(outer.data) as { socket_id: string }).socket_id;
      return socket;
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** Subscribes to `this.channel` with its auth and waits for `subscription_succeeded`. */
  async subscribe(timeoutMs: number): Promise<void> {
    const channel = this.channel!;
    const data: Record<string, string> = { channel };
    if (this.auth !== null) data.auth = this.auth;
    if (this.channelData !== null) data.channel_data = this.channelData;
    const reply = this.await(
      (text) => text.startsWith(SUCCEEDED) && text.includes(`"channel":${JSON.stringify(channel)}`),
      timeoutMs,
      `subscription_succeeded ${channel}`,
    );
    this.send(JSON.stringify({ event: "pusher:subscribe", data }));
    await reply;
  }

  unsubscribe(): void {
    this.send(JSON.stringify({ event: "pusher:unsubscribe", data: { channel: this.channel } }));
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.closing = true;
    this.ws.close();
  }

  private onFrame(text: string): void {
    const sentAt = readStamp(text);
    if (!Number.isNaN(sentAt)) {
      this.metrics.delivered(wallMs() - sentAt);
      return;
    }
    if (this.waiter) {
      if (this.waiter.match(text)) return this.settle(text, null);
      if (text.startsWith(ERROR)) return this.settle(null, new Error(`server error: ${text}`));
    }
    this.metrics.otherFrames++;
  }

  private await(match: (frame: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    if (this.waiter) return Promise.reject(new Error(`already waiting; cannot also wait for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(null, new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.waiter = { match, resolve, reject, timer };
    });
  }

  private settle(frame: string | null, error: Error | null): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = null;
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve(frame!);
  }
}
