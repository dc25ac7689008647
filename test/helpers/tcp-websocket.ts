import type { Socket } from "bun";

/**
 * A WebSocket client written on a bare TCP socket, for what a browser-grade client cannot do:
 * send malformed frames byte by byte (the fuzz test), and be thousands of members that stop
 * decoding what they receive once joined, so the test's own loop is not the one being measured.
 */
export class TcpWebSocket {
  /** Text frames decoded so far, while `decoding` is on. */
  readonly texts: string[] = [];
  /** Bytes received after the handshake, decoded or not. */
  receivedBytes = 0;
  /** Set when the server sent a close frame or the TCP connection ended. */
  closed = false;
  decoding = true;
  private buffer = new Uint8Array(0);
  private upgraded = false;
  private socket!: Socket<undefined>;
  private readonly waiters: Array<() => void> = [];

  private constructor() {}

  /** Connects and completes the upgrade; rejects on anything but 101. */
  static async open(url: string): Promise<TcpWebSocket> {
    const { hostname, port, pathname } = new URL(url);
    const client = new TcpWebSocket();
    let upgraded!: () => void;
    let failed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      upgraded = resolve;
      failed = reject;
    });
    client.socket = await Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        data: (_socket, chunk) => {
          if (!client.upgraded) {
            const text = new TextDecoder().decode(chunk);
            const end = text.indexOf("\r\n\r\n");
            if (!text.startsWith("HTTP/1.1 101")) return failed(new Error(`upgrade refused: ${text.slice(0, 80)}`));
            client.upgraded = true;
            upgraded();
            const rest = chunk.subarray(Buffer.byteLength(text.slice(0, end + 4)));
            if (rest.length > 0) client.receive(rest);
            return;
          }
          client.receive(chunk);
        },
        close: () => client.ended(),
        error: () => client.ended(),
      },
    });
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    client.socket.write(
      `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await ready;
    return client;
  }

  /** A masked frame, as clients must send: `opcode` 1 text, 2 binary, 8 close, 9 ping. */
  static frame(payload: Uint8Array, opcode = 1, fin = true): Uint8Array {
    const length = payload.length;
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const frame = new Uint8Array(header + 4 + length);
    frame[0] = (fin ? 0x80 : 0) | opcode;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 65_536) {
      frame[1] = 0x80 | 126;
      frame[2] = length >> 8;
      frame[3] = length & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    frame.set(mask, header);
    for (let i = 0; i < length; i++) frame[header + 4 + i] = payload[i]! ^ mask[i & 3]!;
    return frame;
  }

  sendText(text: string): void {
    this.socket.write(TcpWebSocket.frame(new TextEncoder().encode(text)));
  }

  /** Bytes as they are, framed or not. */
  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The socket id, from the connection_established frame. */
  async socketId(): Promise<string> {
    const frame = await this.next("pusher:connection_established");
    return (JSON.parse(JSON.parse(frame).data) as { socket_id: string }).socket_id;
  }

  /** The first decoded text frame containing `event`. */
  async next(event: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.texts.find((text) => text.includes(`"${event}"`));
      if (found) return found;
      if (this.closed || Date.now() > deadline) throw new Error(`no ${event}; received: ${this.texts.join("\n").slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Drops the TCP connection without a close frame, as a lost network does. */
  destroy(): void {
    this.socket.terminate();
  }

  private ended(): void {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private receive(chunk: Uint8Array): void {
    this.receivedBytes += chunk.length;
    if (!this.decoding) return;
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    let offset = 0;
    while (joined.length - offset >= 2) {
      const opcode = joined[offset]! & 0x0f;
      let length = joined[offset + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (joined.length - offset < 4) break;
        length = (joined[offset + 2]! << 8) | joined[offset + 3]!;
        header = 4;
      } else if (length === 127) {
        if (joined.length - offset < 10) break;
        length = Number(new DataView(joined.buffer, joined.byteOffset + offset + 2, 8).getBigUint64(0));
        header = 10;
      }
      if (joined.length - offset < header + length) break;
      const payload = joined.subarray(offset + header, offset + header + length);
      if (opcode === 1) this.texts.push(new TextDecoder().decode(payload));
      if (opcode === 8) this.closed = true;
      offset += header + length;
    }
    this.buffer = joined.slice(offset);
    for (const wake of this.waiters.splice(0)) wake();
  }
}
