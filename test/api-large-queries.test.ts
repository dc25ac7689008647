import { afterEach, expect, test } from "bun:test";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

let server: TestServer | null = null;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.close();
  await server?.stop();
  server = null;
});

/** `count` channels, one subscriber each, over a few sockets; answers are counted, not parsed. */
async function occupy(count: number): Promise<void> {
  let answered = 0;
  const opened = await Promise.all(
    Array.from({ length: 10 }, () =>
      within(
        new Promise<WebSocket>((resolve) => {
          const ws = new WebSocket(server!.wsUrl());
          ws.onmessage = (event) => {
            if (String(event.data).includes("pusher:connection_established")) resolve(ws);
            else answered++;
          };
        }),
        "a socket to open",
      ),
    ),
  );
  sockets.push(...opened);
  for (let i = 0; i < count; i++) opened[i % opened.length]!.send(`{"event":"pusher:subscribe","data":{"channel":"channel-${i}"}}`);
  await until(() => answered === count, `${count} subscriptions`, 20_000);
}

test("/up is answered while GET /channels over 200k channels is being built, and the answer is whole", async () => {
  server = await startTestServer({ apps: [{ ...APP, max_channels_per_connection: null }] });
  const count = 200_000;
  await occupy(count);

  let done = false;
  const query = signedFetch(server.url, "GET", `/apps/${APP.app_id}/channels`, undefined, { ...APP, params: { info: "subscription_count" } }).then(async (response) => {
    const body = (await response.json()) as { channels: Record<string, { subscription_count: number }> };
    done = true;
    return { status: response.status, body };
  });
  let upAnswered = 0;
  while (!done) {
    const response = await fetch(`${server.url}/up`);
    if (response.status === 200 && !done) upAnswered++;
  }
  const { status, body } = await within(query, "the channels answer", 20_000);
  expect(status).toBe(200);
  const names = Object.keys(body.channels);
  expect(names).toHaveLength(count);
  expect(body.channels["channel-0"]).toEqual({ subscription_count: 1 });
  expect(body.channels[`channel-${count - 1}`]).toEqual({ subscription_count: 1 });
  // Built in one piece, the answer held the loop until it was sent: no /up could come first.
  expect(upAnswered).toBeGreaterThanOrEqual(3);
}, 30_000);
