import type { Socket } from "bun";

export interface Answer {
  status: number;
  body: string;
}

/**
 * One HTTP/1.1 keep-alive connection, every request on it: with `--workers` the kernel hands a
 * TCP connection to one worker, so this is how a test talks to the HTTP API of a chosen worker.
 */
export class KeepAlive {
  private buffer = "";
  private waiting: ((answer: Answer) => void) | null = null;

  private constructor(private readonly socket: Socket<undefined>) {}

  static async open(port: number): Promise<KeepAlive> {
    let self: KeepAlive | null = null;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_socket, data) => self!.heard(new TextDecoder().decode(data)),
      },
    });
    self = new KeepAlive(socket);
    return self;
  }

  request(method: string, pathAndQuery: string, body = "", headers: Record<string, string> = {}): Promise<Answer> {
    const lines = [`${method} ${pathAndQuery} HTTP/1.1`, "Host: 127.0.0.1", "Connection: keep-alive", `Content-Length: ${Buffer.byteLength(body)}`];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    const answer = new Promise<Answer>((resolve) => (this.waiting = resolve));
    this.socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
    return answer;
  }

  close(): void {
    this.socket.end();
  }

  /** Responses have a Content-Length (the server answers with whole bodies). */
  private heard(text: string): void {
    this.buffer += text;
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buffer.slice(0, end);
    const length = Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.slice(end + 4, end + 4 + length);
    this.buffer = this.buffer.slice(end + 4 + length);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ status: Number(head.split(" ")[1]), body });
  }
}
