import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { freePort } from "./ports.ts";
import { until } from "./waits.ts";

/** The Debian package's binaries: /usr/lib/postgresql/<version>/bin. */
export function postgresBin(): string | null {
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    return versions.length > 0 ? join("/usr/lib/postgresql", versions[0]!, "bin") : null;
  } catch {
    return null;
  }
}

/**
 * A throwaway PostgreSQL cluster on a free loopback port (trust auth, no fsync), with a
 * `laravel` database. PostgreSQL refuses to run as root: then it runs as the `postgres` user.
 */
export class PostgresServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: Bun.Subprocess,
  ) {}

  static async start(): Promise<PostgresServer> {
    const bin = postgresBin();
    if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql); npm test's set-up installs it");
    const dir = mkdtempSync(join(tmpdir(), "reverb-uws-pg-"));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(dir, 0o755);
      chownSync(dir, uid("postgres"), uid("postgres", "-g"));
    }
    const as = asRoot ? ["runuser", "-u", "postgres", "--"] : [];
    const data = join(dir, "data");
    const init = Bun.spawnSync([...as, join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"], { stdout: "ignore", stderr: "pipe" });
    if (init.exitCode !== 0) throw new Error(`initdb: ${init.stderr.toString()}`);
    const port = freePort();
    const child = Bun.spawn(
      [...as, join(bin, "postgres"), "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"],
      { stdout: "ignore", stderr: "ignore" },
    );
    const server = new PostgresServer(port, dir, child);
    await until(async () => {
      const admin = server.client("postgres");
      try {
        await admin.unsafe("select 1");
        return true;
      } catch {
        return false;
      } finally {
        await admin.close();
      }
    }, "postgres to accept connections", 15_000);
    const admin = server.client("postgres");
    await admin.unsafe("create database laravel");
    await admin.close();
    return server;
  }

  client(database = "laravel"): SQL {
    return new SQL({ adapter: "postgres", hostname: "127.0.0.1", port: this.port, database, username: "postgres", password: "", max: 1 });
  }

  async stop(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function uid(user: string, flag = "-u"): number {
  return Number(Bun.spawnSync(["id", flag, user]).stdout.toString().trim());
}
