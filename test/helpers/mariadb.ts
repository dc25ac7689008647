import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { freePort } from "./ports.ts";
import { until } from "./waits.ts";

/** Debian's `mariadb-server-core` server binary. */
export const MARIADBD = "/usr/sbin/mariadbd";

export const hasMariaDb = () => existsSync(MARIADBD);

/**
 * A throwaway MariaDB on a free loopback port: an empty data folder with a `laravel` database
 * (MariaDB's databases are folders), no grant tables (any user, no password), small buffers.
 */
export class MariaDbServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: Bun.Subprocess,
  ) {}

  static async start(): Promise<MariaDbServer> {
    if (!hasMariaDb()) throw new Error("MariaDB is not installed (apt-get install mariadb-server-core); npm test's set-up installs it");
    const dir = mkdtempSync(join(tmpdir(), "reverb-uws-mariadb-"));
    mkdirSync(join(dir, "data", "laravel"), { recursive: true });
    const port = freePort();
    const child = Bun.spawn(
      [
        MARIADBD,
        "--no-defaults",
        `--datadir=${join(dir, "data")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        `--socket=${join(dir, "mariadb.sock")}`,
        `--pid-file=${join(dir, "mariadb.pid")}`,
        "--user=root",
        "--skip-grant-tables",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=8M",
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    const server = new MariaDbServer(port, dir, child);
    await until(async () => {
      const client = server.client();
      try {
        await client.unsafe("select 1");
        return true;
      } catch {
        return false;
      } finally {
        await client.close();
      }
    }, "mariadb to accept connections", 20_000);
    return server;
  }

  client(): SQL {
    return new SQL({ adapter: "mysql", hostname: "127.0.0.1", port: this.port, database: "laravel", username: "root", password: "", max: 1 });
  }

  async stop(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
