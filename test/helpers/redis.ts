import { freePort } from "./ports.ts";
import { until } from "./waits.ts";

/**
 * A real redis-server on a free loopback port, without persistence. It can be killed and started
 * again on the same port, or stopped and continued (SIGSTOP/SIGCONT), to test outages and stalls.
 */
export class RedisServer {
  private process: Bun.Subprocess | null = null;

  private constructor(readonly port: number) {}

  static async start(port = freePort()): Promise<RedisServer> {
    const server = new RedisServer(port);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port, after kill(). */
  async restart(): Promise<void> {
    const binary = Bun.which("redis-server");
    if (!binary) throw new Error("redis-server is not installed (apt-get install redis-server); .ci/run installs it");
    this.process = Bun.spawn([binary, "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await until(async () => (await this.command("PING").catch(() => "")) === "+PONG", `redis-server on ${this.port}`);
  }

  /** Sends one inline command and returns the first reply line. */
  async command(...args: string[]): Promise<string> {
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    let reply = "";
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: this.port,
      socket: {
        data(socket, data) {
          reply += data.toString();
          if (reply.includes("\r\n")) {
            resolve(reply.split("\r\n")[0]!);
            socket.end();
          }
        },
        error: (_socket, error) => reject(error),
        close: () => resolve(reply.split("\r\n")[0] ?? ""),
      },
    });
    socket.write(`${args.map((arg) => (/\s/.test(arg) ? JSON.stringify(arg) : arg)).join(" ")}\r\n`);
    return promise;
  }

  /** Freezes the process: its sockets stay open and accept, but nothing is answered. */
  pause(): void {
    this.process?.kill("SIGSTOP");
  }

  resume(): void {
    this.process?.kill("SIGCONT");
  }

  async kill(): Promise<void> {
    this.process?.kill("SIGKILL");
    await this.process?.exited;
    this.process = null;
  }
}
