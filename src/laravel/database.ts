import { resolve } from "node:path";
import type { SQL } from "bun";
import type { LaravelConfig } from "../config/schema.ts";

export type DatabaseKind = "sqlite" | "mysql" | "pgsql";

/** One of the Laravel app's databases through Bun's built-in SQL client, with its dialect's quirks. */
export interface LaravelDatabase {
  readonly kind: DatabaseKind;
  readonly sql: SQL;
  /** The `n`th (from 1) bound parameter's placeholder. */
  param(n: number): string;
  /** An identifier (table, column) quoted the way Laravel's grammar quotes it. */
  quote(name: string): string;
  close(): Promise<void>;
}

const SQLITE_BUSY_TIMEOUT_MS = 100;

const DEFAULT_PORTS = { mysql: 3306, pgsql: 5432 } as const;

/**
 * Opens the database named by `DB_CONNECTION` (or `connection`, such as `DB_CACHE_CONNECTION`)
 * with the `DB_*` settings, as Laravel's default `config/database.php` reads them. SQLite's file
 * is resolved under the Laravel app's folder; `readonly` never creates it.
 */
export function openLaravelDatabase(laravel: LaravelConfig, options: { connection?: string | null; readonly?: boolean } = {}): LaravelDatabase {
  const settings = laravel.database;
  const connection = options.connection ?? settings.connection;
  const kind: DatabaseKind = connection === "sqlite" ? "sqlite" : connection === "pgsql" ? "pgsql" : "mysql";
  // Bun's SQL client is the only driver: the Node build has none (and never imports "bun").
  if (typeof Bun === "undefined") throw new Error("Pulse and Laravel's database cache store need Bun's SQL client: run reverb-uws on Bun to use them");
  let sql: SQL;
  if (kind === "sqlite") {
    const file = settings.database ?? resolve(laravel.path, "database", "database.sqlite");
    const filename = file === ":memory:" ? file : resolve(laravel.path, file);
    sql = new Bun.SQL({ adapter: "sqlite", filename, readonly: options.readonly ?? false, create: !options.readonly } as SQL.Options);
    // SQLite runs on the calling thread: wait briefly for a lock PHP or another worker holds, but
    // never stall the socket loop; a longer lock fails the write, whose counts wait for the next.
    void sql.unsafe(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).catch(() => {});
  } else if (settings.url) {
    sql = new Bun.SQL(settings.url, { adapter: kind === "pgsql" ? "postgres" : "mysql", max: 2 } as SQL.Options);
  } else {
    sql = new Bun.SQL({
      adapter: kind === "pgsql" ? "postgres" : "mysql",
      hostname: settings.host,
      port: settings.port ?? DEFAULT_PORTS[kind],
      database: settings.database ?? "laravel",
      username: settings.username ?? "root",
      password: settings.password ?? "",
      max: 2,
      connectionTimeout: 5,
    } as SQL.Options);
  }
  return {
    kind,
    sql,
    param: kind === "pgsql" ? (n) => `$${n}` : () => "?",
    quote: kind === "mysql" ? (name) => `\`${name}\`` : (name) => `"${name}"`,
    close: () => sql.close(),
  };
}
