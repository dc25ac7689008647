import type { Socket } from "bun";

const KEPT_FRAMES = 16;

/**
 * A WebSocket client over a raw TCP socket that can stop reading, as a stalled phone or a
 * saturated link does: Bun's WebSocket client always reads. While paused, the kernel buffers
 * fill and then the server's own. It handshakes, subscribes, and parses what the server sends
 * (unmasked frames) so a test can see the close frame behind everything it did not read.
 */
export class PausedReader {
  /** The first text frames received, in order (the rest are only counted). */
  readonly texts: string[] = [];
  /** Text frames received in all. */
  received = 0;
  /** The server's close code, once its close frame was read. */
  closeCode: number | null = null;
  /** Settles when the TCP connection is gone. */
  readonly ended: Promise<void>;
  /** Stop reading after every chunk: each `resume()` then reads one chunk, as a slow link would. */
  oneChunkAtATime = false;
  private pending = Buffer.alloc(0);
  private upgraded = false;
  private socket!: Socket<undefined>;
  private endedResolve!: () => void;

  private constructor() {
    this.ended = new Promise((resolve) => (this.endedResolve = resolve));
  }

  /** Connects to `ws://127.0.0.1:port{path}` and waits for `connection_established`. */
  static async connect(port: number, path: string, timeoutMs = 3000): Promise<PausedReader> {
    const reader = new PausedReader();
    reader.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => {
          socket.write(
            `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        },
        data: (socket, chunk) => {
          if (reader.oneChunkAtATime) socket.pause();
          reader.receive(chunk);
        },
        close: () => reader.endedResolve(),
        error: () => reader.endedResolve(),
      },
    });
    await reader.waitFor(() => reader.texts.length > 0, "connection_established", timeoutMs);
    return reader;
  }

  get socketId(): string {
    return (JSON.parse((JSON.parse(this.texts[0]!) as { data: string }).data) as { socket_id: string }).socket_id;
  }

  async subscribe(channel: string): Promise<void> {
    const from = this.texts.length;
    this.sendText(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
    await this.waitFor(() => this.texts.slice(from).some((text) => text.includes("subscription_succeeded")), `subscribe ${channel}`);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.terminate();
  }

  async waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`paused reader: timed out waiting for ${what}`);
      await Bun.sleep(5);
    }
  }

  /** Client frames are masked (RFC 6455 5.3); a zero mask keeps the payload as it is. */
  private sendText(text: string): void {
    const payload = Buffer.from(text);
    if (payload.length > 125) throw new Error("paused reader: frames over 125 bytes are not needed here");
    this.socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    if (!this.upgraded) {
      const end = this.pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.pending.subarray(0, 12).toString().includes("101")) throw new Error(`paused reader: no upgrade: ${this.pending.toString()}`);
      this.upgraded = true;
      this.pending = this.pending.subarray(end + 4);
    }
    for (;;) {
      if (this.pending.length < 2) return;
      const opcode = this.pending[0]! & 0x0f;
      let length = this.pending[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.pending.length < 4) return;
        length = this.pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.pending.length < 10) return;
        length = Number(this.pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.pending.length < offset + length) return;
      const payload = this.pending.subarray(offset, offset + length);
      if (opcode === 0x1 && this.received++ < KEPT_FRAMES) this.texts.push(payload.toString());
      else if (opcode === 0x8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.pending = this.pending.subarray(offset + length);
    }
  }
}
