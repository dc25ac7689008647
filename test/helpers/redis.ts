import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import Redis from "ioredis";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { until } from "./waits.ts";

/** PEM files for a Redis TLS port: a CA, and a server certificate it signed. */
export interface RedisTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface RedisServerOptions {
  /** Serve TLS only (the plain port is off). */
  tls?: RedisTlsFiles;
  /** Start as a replica of the server on this port. */
  replicaOf?: number;
}

/**
 * A real redis-server on a free loopback port, without persistence. It can be killed and started
 * again on the same port, or stopped and continued (SIGSTOP/SIGCONT), to test outages and stalls.
 */
export class RedisServer {
  private process: Bun.Subprocess | null = null;
  private dir: string | null = null;

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(port = freePort(), options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(port, options);
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.options.tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port, after kill(). */
  async restart(): Promise<void> {
    const binary = Bun.which("redis-server");
    if (!binary) throw new Error("redis-server is not installed (apt-get install redis-server); .ci/run installs it");
    const { tls, replicaOf } = this.options;
    const listen = tls
      ? ["--port", "0", "--tls-port", String(this.port), "--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no"]
      : ["--port", String(this.port)];
    const replica = replicaOf === undefined ? [] : ["--replicaof", "127.0.0.1", String(replicaOf)];
    // A replica's full sync writes an RDB file: keep it out of the working directory.
    this.dir ??= mkdtempSync(join(tmpdir(), "reverb-uws-redis-"));
    this.process = Bun.spawn([binary, ...listen, ...replica, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await until(async () => (await this.command("PING").catch(() => "")) === "+PONG", `redis-server on ${this.port}`);
  }

  /** Sends one inline command and returns the first reply line. */
  async command(...args: string[]): Promise<string> {
    if (this.options.tls) return this.tlsCommand(args);
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

  /** The same over TLS, through ioredis, as a status line (`+PONG`). */
  private async tlsCommand([name, ...rest]: string[]): Promise<string> {
    const client = new Redis({
      host: "127.0.0.1",
      port: this.port,
      tls: { ca: readFileSync(this.options.tls!.ca) },
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      return `+${String(await client.call(name!, ...rest))}`;
    } finally {
      client.disconnect();
    }
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

/** A self-signed CA and a certificate it signed for 127.0.0.1, made with openssl in a new folder. */
export function makeTlsFiles(): RedisTlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-redis-tls-"));
  const files = { ca: join(dir, "ca.crt"), cert: join(dir, "redis.crt"), key: join(dir, "redis.key") };
  const openssl = (...args: string[]) => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr.toString()}`);
  };
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=reverb-uws test CA");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "redis.crt", "-days", "1", "-extfile", "san.ext");
  return files;
}

/**
 * A real Sentinel (redis-server in sentinel mode) watching one master with quorum 1, quick to
 * declare it down (1 s) so a failover takes seconds.
 */
export class RedisSentinel {
  private constructor(
    readonly port: number,
    private readonly child: Bun.Subprocess,
    private readonly dir: string,
  ) {}

  static async start(masterPort: number, master = "mymaster"): Promise<RedisSentinel> {
    const binary = Bun.which("redis-server");
    if (!binary) throw new Error("redis-server is not installed (apt-get install redis-server)");
    const port = freePort();
    const dir = mkdtempSync(join(tmpdir(), "reverb-uws-sentinel-"));
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${master} 1000`,
        `sentinel failover-timeout ${master} 5000`,
        `sentinel parallel-syncs ${master} 1`,
      ].join("\n") + "\n",
    );
    const child = Bun.spawn([binary, config, "--sentinel"], { stdout: "ignore", stderr: "ignore" });
    const sentinel = new RedisSentinel(port, child, dir);
    await until(async () => (await sentinel.masterPort(master).catch(() => null)) === masterPort, `sentinel on ${port}`, 5_000);
    return sentinel;
  }

  /** The master's port as this Sentinel reports it now. */
  async masterPort(master = "mymaster"): Promise<number | null> {
    const answer = (await this.ask("get-master-addr-by-name", master)) as [string, string] | null;
    return answer ? Number(answer[1]) : null;
  }

  /** How many replicas of the master this Sentinel knows of. */
  async replicaCount(master = "mymaster"): Promise<number> {
    return ((await this.ask("replicas", master)) as unknown[]).length;
  }

  private async ask(...args: string[]): Promise<unknown> {
    const client = new Redis({ host: "127.0.0.1", port: this.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on("error", () => {});
    try {
      await client.connect();
      return await client.call("SENTINEL", ...args);
    } finally {
      client.disconnect();
    }
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
