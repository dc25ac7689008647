import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A Laravel app's folder as the server sees it: a `.env` and the `storage/` and `database/` folders. */
export function laravelApp(env: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-laravel-"));
  mkdirSync(join(dir, "storage", "framework", "cache", "data"), { recursive: true });
  mkdirSync(join(dir, "database"), { recursive: true });
  writeFileSync(join(dir, ".env"), Object.entries(env).map(([key, value]) => `${key}=${value}`).join("\n") + "\n");
  return dir;
}

/**
 * What `Cache::forever('laravel:reverb:restart', $time)` leaves behind, written independently
 * of the server's reader from Laravel's FileStore: sha1 of the key, two folder levels, the
 * 10-digit "never expires" header, then `serialize()`.
 */
export function writeFileCacheForever(app: string, key: string, serialized: string): void {
  const hash = createHash("sha1").update(key).digest("hex");
  const path = join(app, "storage", "framework", "cache", "data", hash.slice(0, 2), hash.slice(2, 4), hash);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `9999999999${serialized}`);
}

/** Laravel 11's `create_cache_table` migration, SQLite flavour. */
export const SQLITE_CACHE_TABLE =
  'create table "cache" ("key" varchar not null, "value" text not null, "expiration" integer not null, primary key ("key"))';

/** Pulse's `create_pulse_tables` migration for `pulse_aggregates`, as Laravel's SQLite grammar writes it. */
export const SQLITE_PULSE_AGGREGATES = [
  'create table "pulse_aggregates" ("id" integer primary key autoincrement not null, "bucket" integer not null, "period" integer not null, "type" varchar not null, "key" text not null, "key_hash" varchar not null, "aggregate" varchar not null, "value" numeric not null, "count" integer)',
  'create unique index "pulse_aggregates_bucket_period_type_aggregate_key_hash_unique" on "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key_hash")',
  'create index "pulse_aggregates_period_bucket_index" on "pulse_aggregates" ("period", "bucket")',
  'create index "pulse_aggregates_type_index" on "pulse_aggregates" ("type")',
  'create index "pulse_aggregates_period_type_aggregate_bucket_index" on "pulse_aggregates" ("period", "type", "aggregate", "bucket")',
];

/** Pulse's `pulse_aggregates` as Laravel's PostgreSQL grammar writes it: key_hash is a stored md5 uuid. */
export const PGSQL_PULSE_AGGREGATES = [
  'create table "pulse_aggregates" ("id" bigserial not null primary key, "bucket" integer not null, "period" integer not null, "type" varchar(255) not null, "key" text not null, "key_hash" uuid generated always as (md5("key")::uuid) stored, "aggregate" varchar(255) not null, "value" decimal(20, 2) not null, "count" integer null)',
  'alter table "pulse_aggregates" add constraint "pulse_aggregates_bucket_period_type_aggregate_key_hash_unique" unique ("bucket", "period", "type", "aggregate", "key_hash")',
];

/** Laravel 11's `cache` table, PostgreSQL flavour. */
export const PGSQL_CACHE_TABLE = [
  'create table "cache" ("key" varchar(255) not null, "value" text not null, "expiration" integer not null)',
  'alter table "cache" add primary key ("key")',
];

/** Pulse's `pulse_aggregates` as Laravel's MySQL/MariaDB grammar writes it: key_hash is a virtual unhex(md5(key)). */
export const MYSQL_PULSE_AGGREGATES = [
  "create table `pulse_aggregates` (`id` bigint unsigned not null auto_increment primary key, `bucket` int unsigned not null, `period` mediumint unsigned not null, `type` varchar(255) not null, `key` mediumtext not null, `key_hash` char(16) character set binary as (unhex(md5(`key`))), `aggregate` varchar(255) not null, `value` decimal(20, 2) not null, `count` int unsigned null) default character set utf8mb4 collate 'utf8mb4_unicode_ci'",
  "alter table `pulse_aggregates` add unique `pulse_aggregates_bucket_period_type_aggregate_key_hash_unique`(`bucket`, `period`, `type`, `aggregate`, `key_hash`)",
];

/** Laravel 11's `cache` table, MySQL/MariaDB flavour. */
export const MYSQL_CACHE_TABLE = "create table `cache` (`key` varchar(255) not null, `value` mediumtext not null, `expiration` int not null, primary key (`key`)) default character set utf8mb4 collate 'utf8mb4_unicode_ci'";
