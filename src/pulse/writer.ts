import { createHash } from "node:crypto";
import type { LaravelDatabase } from "../laravel/database.ts";
import type { AggregateRow } from "./aggregates.ts";

/** Rows per statement: far below every driver's limit on bound parameters. */
const CHUNK = 200;

/**
 * Adds rows to `pulse_aggregates` the way Pulse's DatabaseStorage::upsertCount() does: insert,
 * or add `value` to the row with the same bucket, period, type, aggregate and key hash. MySQL and
 * PostgreSQL compute `key_hash` themselves (generated columns); on SQLite Pulse writes md5(key).
 */
export async function writeCounts(db: LaravelDatabase, rows: AggregateRow[]): Promise<void> {
  if (rows.length === 0) return;
  const q = db.quote;
  const manualHash = db.kind === "sqlite";
  const columns = ["bucket", "period", "type", "aggregate", "key", ...(manualHash ? ["key_hash"] : []), "value"];
  const table = q("pulse_aggregates");
  const onConflict =
    db.kind === "mysql"
      ? `on duplicate key update ${q("value")} = ${q("value")} + values(${q("value")})`
      : `on conflict (${["bucket", "period", "type", "aggregate", "key_hash"].map(q).join(", ")}) do update set ${q("value")} = ${table}.${q("value")} + ${q("excluded")}.${q("value")}`;
  await db.sql.begin(async (tx) => {
    for (let start = 0; start < rows.length; start += CHUNK) {
      const chunk = rows.slice(start, start + CHUNK);
      const params: unknown[] = [];
      const tuples = chunk.map((row) => {
        const values = [row.bucket, row.period, row.type, "count", row.key, ...(manualHash ? [createHash("md5").update(row.key).digest("hex")] : []), row.value];
        const placeholders = values.map((value) => {
          params.push(value);
          return db.param(params.length);
        });
        return `(${placeholders.join(", ")})`;
      });
      await tx.unsafe(`insert into ${table} (${columns.map(q).join(", ")}) values ${tuples.join(", ")} ${onConflict}`, params);
    }
  });
}
