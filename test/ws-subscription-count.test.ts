import { afterEach, describe, expect, test } from "bun:test";
import { signChannel } from "../src/protocol/signatures.ts";
import { Clients } from "./helpers/clients.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/waits.ts";

let server: TestServer | null = null;
const clients = new Clients();

afterEach(async () => {
  clients.disconnectAll();
  await server?.stop();
  server = null;
});

async function start(app: Record<string, unknown> = {}): Promise<TestServer> {
  server = await startTestServer({ apps: [{ ...APP, accept_client_events_from: "members", ...app }] });
  return server;
}

function counts(client: RawClient, channel: string): number[] {
  return client.frames
    .filter((frame) => frame.event === "pusher_internal:subscription_count" && frame.channel === channel)
    .map((frame) => (JSON.parse(frame.data as string) as { subscription_count: number }).subscription_count);
}

describe("pusher_internal:subscription_count", () => {
  test("pusher-js gets the count on every subscribe and unsubscribe of the channel", async () => {
    const running = await start({ subscription_count: true });
    const first = await clients.pusher(running);
    const seen: unknown[] = [];
    const channel = first.subscribe("room");
    channel.bind("pusher:subscription_count", (data: unknown) => seen.push(data));
    await until(() => seen.length === 1, "the first count");
    expect(seen).toEqual([{ subscription_count: 1 }]);

    const second = await clients.raw(running.wsUrl());
    await second.subscribe("room");
    await until(() => seen.length === 2, "the second count");
    expect(seen[1]).toEqual({ subscription_count: 2 });
    await second.waitFor(() => counts(second, "room").length === 1, "the joiner's count");
    expect(second.raw.at(-1)).toBe('{"event":"pusher_internal:subscription_count","data":"{\\"subscription_count\\":2}","channel":"room"}');
    expect((channel as unknown as { subscriptionCount: number }).subscriptionCount).toBe(2);

    second.send({ event: "pusher:unsubscribe", data: { channel: "room" } });
    await until(() => seen.length === 3, "the count after the unsubscribe");
    expect(seen[2]).toEqual({ subscription_count: 1 });
    second.close();
    await quiet(200);
    expect(seen).toHaveLength(3);
  });

  test("a closing socket lowers the count; presence and other channels are not counted", async () => {
    const running = await start({ subscription_count: true });
    const [a, b] = [await clients.raw(running.wsUrl()), await clients.raw(running.wsUrl())];
    await a.subscribe("private-x", { auth: signChannel(APP.key, APP.secret, a.socketId, "private-x") });
    await b.subscribe("private-x", { auth: signChannel(APP.key, APP.secret, b.socketId, "private-x") });
    const channelData = '{"user_id":1}';
    await a.subscribe("presence-x", { auth: signChannel(APP.key, APP.secret, a.socketId, "presence-x", channelData), channel_data: channelData });
    b.ws.close();
    await a.waitFor(() => counts(a, "private-x").length === 3, "the count after the close");
    expect(counts(a, "private-x")).toEqual([1, 2, 1]);
    await quiet(200);
    expect(counts(a, "presence-x")).toEqual([]);
  });

  test("off by default: no counts are sent", async () => {
    const running = await start();
    const [a, b] = [await clients.raw(running.wsUrl()), await clients.raw(running.wsUrl())];
    await a.subscribe("room");
    await b.subscribe("room");
    await quiet(200);
    expect(a.count("pusher_internal:subscription_count")).toBe(0);
  });

  test("above 100 subscribers at most one count per 5 s goes out, and the last value arrives", async () => {
    const running = await start({ subscription_count: true });
    const watcher = await clients.raw(running.wsUrl());
    await watcher.subscribe("crowd");
    const others = await Promise.all(Array.from({ length: 102 }, () => clients.raw(running.wsUrl())));
    const started = Date.now();
    for (const client of others) client.send({ event: "pusher:subscribe", data: { channel: "crowd" } });
    await watcher.waitFor(() => counts(watcher, "crowd").length === 100, "counts up to 100", 5000);
    await quiet(500);
    expect(counts(watcher, "crowd")).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await watcher.waitFor(() => counts(watcher, "crowd").length === 101, "the throttled count", 7000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
    expect(counts(watcher, "crowd").at(-1)).toBe(103);
    // Back under the threshold every change goes out at once again.
    others.slice(0, 5).forEach((client) => client.ws.close());
    await watcher.waitFor(() => counts(watcher, "crowd").at(-1) === 98, "the count falling under 100", 7000);
  }, 20_000);
});
