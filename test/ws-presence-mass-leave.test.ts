import { afterEach, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { TcpWebSocket } from "./helpers/tcp-websocket.ts";
import { until, within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const opened: TcpWebSocket[] = [];
const watchers: RawClient[] = [];

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  for (const watcher of watchers.splice(0)) watcher.close();
  await server?.stop();
  server = null;
});

const CHANNEL = "presence-crowd";

function joinFrame(socketId: string, user: string): string {
  const channelData = JSON.stringify({ user_id: user });
  return JSON.stringify({ event: "pusher:subscribe", data: { channel: CHANNEL, auth: signChannel(APP.key, APP.secret, socketId, CHANNEL, channelData), channel_data: channelData } });
}

/** A member that stops decoding once joined: thousands of them must cost the test little. */
async function member(user: string): Promise<TcpWebSocket> {
  const socket = await TcpWebSocket.open(server!.wsUrl());
  opened.push(socket);
  socket.sendText(joinFrame(await socket.socketId(), user));
  await socket.next("pusher_internal:subscription_succeeded");
  socket.decoding = false;
  socket.texts.length = 0;
  return socket;
}

async function watcher(user: string): Promise<RawClient> {
  const client = await RawClient.connect(server!.wsUrl());
  watchers.push(client);
  client.send(joinFrame(client.socketId, user));
  await client.next("pusher_internal:subscription_succeeded");
  return client;
}

function removedUsers(client: RawClient): string[] {
  return client.frames
    .filter((frame) => frame.event === "pusher_internal:member_removed")
    .map((frame) => (JSON.parse(frame.data as string) as { user_id: string }).user_id);
}

test("2,000 members of one presence channel leaving at once: /up keeps answering, every watcher sees each removal once", async () => {
  server = await startTestServer();
  const first = await watcher("watcher-1");
  const second = await watcher("watcher-2");
  const count = 2000;
  const users = Array.from({ length: count }, (_, i) => `user-${i}`);
  const members: TcpWebSocket[] = [];
  for (let i = 0; i < count; i += 250) members.push(...(await Promise.all(users.slice(i, i + 250).map(member))));
  await first.waitFor(() => first.count("pusher_internal:member_added") === count + 1, "every member_added", 10_000);

  for (const socket of members) socket.destroy();
  const asked = performance.now();
  const up = await within(fetch(`${server.url}/up`), "/up during the mass leave", 5_000);
  const upMs = performance.now() - asked;
  expect(up.status).toBe(200);
  // Announced as each socket closed, the removals (N × N frames) held the loop for 1.7 s here.
  expect(upMs).toBeLessThan(1_000);

  for (const client of [first, second]) {
    await client.waitFor(() => client.count("pusher_internal:member_removed") >= count, "every member_removed", 20_000);
    expect(new Set(removedUsers(client))).toEqual(new Set(users));
    expect(removedUsers(client)).toHaveLength(count);
  }
  const roster = await signedFetch(server.url, "GET", `/apps/${APP.app_id}/channels/${CHANNEL}/users`, undefined, APP);
  expect(await roster.json()).toEqual({ users: [{ id: "watcher-1" }, { id: "watcher-2" }] });
}, 40_000);

test("a member back at once after a mass leave is announced removed, then added, and stays in the roster", async () => {
  server = await startTestServer();
  const observer = await watcher("observer");
  const count = 2000;
  const members: TcpWebSocket[] = [];
  for (let i = 0; i < count; i += 250) members.push(...(await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, j) => member(`user-${i + j}`)))));
  await observer.waitFor(() => observer.count("pusher_internal:member_added") === count, "every member_added", 10_000);

  // Everyone leaves; user-1999 (last in the queue) is back at once on a new socket.
  for (const socket of members) socket.destroy();
  await member(`user-${count - 1}`);

  await observer.waitFor(() => observer.count("pusher_internal:member_removed") >= count, "every member_removed", 20_000);
  const returning = () =>
    observer.frames
      .filter((frame) => frame.event.startsWith("pusher_internal:member_") && (JSON.parse(frame.data as string) as { user_id: string }).user_id === `user-${count - 1}`)
      .map((frame) => frame.event);
  // The return is queued behind the removal, so it may come in a later read than the last removal.
  await observer.waitFor(() => returning().length >= 3, "the returning member's frames", 5_000).catch(() => {});
  const events = returning();
  expect(events).toEqual(["pusher_internal:member_added", "pusher_internal:member_removed", "pusher_internal:member_added"]);
  await until(async () => {
    const roster = await signedFetch(server!.url, "GET", `/apps/${APP.app_id}/channels/${CHANNEL}/users`, undefined, APP);
    return JSON.stringify(await roster.json()) === JSON.stringify({ users: [{ id: "observer" }, { id: `user-${count - 1}` }] });
  }, "the roster to hold the observer and the returning member");
}, 40_000);
