/**
 * JS heap bytes of the per-connection objects our server keeps for an idle connection on its own
 * private channel, measured by allocating many of each and reading heapStats() after a full GC.
 * Uses the real classes from src/; edits nothing.
 *
 *   npx bun bench/experiments/object-sizes.ts
 */
import { heapStats } from "bun:jsc";
import * as v from "valibot";
import { AppConfigSchema } from "../../src/config/schema.ts";
import { AppState } from "../../src/core/app-state.ts";
import { Channel, topicFor } from "../../src/core/channel.ts";
import { Connection, type Subscription } from "../../src/core/connection.ts";
import { channelKind } from "../../src/protocol/channels.ts";
import { newSocketId } from "../../src/protocol/socket-id.ts";

const COUNT = 100_000;
const app = new AppState(v.parse(AppConfigSchema, { app_id: "1", key: "k", secret: "s" }));
const kind = channelKind("private-user-1");

/** Heap bytes per item that `make(i)` allocates and keeps. */
function bytesEach(make: (i: number) => unknown): number {
  const keep: unknown[] = new Array(COUNT);
  Bun.gc(true);
  const before = heapStats().heapSize;
  for (let i = 0; i < COUNT; i++) keep[i] = make(i);
  Bun.gc(true);
  const after = heapStats().heapSize;
  if (keep.length !== COUNT) throw new Error("unreachable");
  return (after - before) / COUNT - 8; // minus the slot in `keep`
}

const rows: Array<[string, (i: number) => unknown]> = [
  ["Connection (10 fields, with its empty subscriptions Map)", () => new Connection(newSocketId(), app, Date.now())],
  ["  of which the empty Map alone", () => new Map()],
  ["  of which socketId string", () => newSocketId()],
  ["Map with one subscription entry (vs empty)", () => new Map([["private-user-1", null]])],
  ["Subscription object { channel, data, userKey }", (): Subscription => ({ channel: null as unknown as Channel, data: null, userKey: null })],
  ["Channel (name, kind, topic, subscribers)", (i) => new Channel(`private-user-${i}`, kind, topicFor("1", `private-user-${i}`))],
  ["  of which channel name string", (i) => `private-user-${i}`],
  ["  of which topic string (appId \\0 name)", (i) => topicFor("1", `private-user-${i}`)],
  ["ceiling: { socketId, presence: Map }", () => ({ socketId: newSocketId(), presence: new Map() })],
];

console.log("| object | JS heap bytes each |\n|---|--:|");
for (const [label, make] of rows) console.log(`| ${label} | ${bytesEach(make).toFixed(0)} |`);
