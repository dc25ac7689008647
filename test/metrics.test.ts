import { afterEach, describe, expect, test } from "bun:test";
import { signUser } from "../src/protocol/signatures.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";

const servers: TestServer[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
});

async function serve(token: string | null): Promise<TestServer> {
  const server = await startTestServer({ server: { metrics_token: token } });
  servers.push(server);
  return server;
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  if (!line) throw new Error(`no ${name}{${labels}} in:\n${text}`);
  return Number(line.split(" ").at(-1));
}

describe("/metrics", () => {
  test("off without a token; 401 with a wrong or missing one", async () => {
    expect((await fetch(`${(await serve(null)).url}/metrics`)).status).toBe(404);
    const server = await serve("s3cret");
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics?token=wrong`)).status).toBe(401);
    expect((await fetch(`${server.url}/dashboard/data`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { Authorization: "Bearer s3cret" } })).status).toBe(200);
  });

  test("the numbers match what clients and the API did", async () => {
    const server = await serve("s3cret");
    for (let i = 0; i < 3; i++) clients.push(await RawClient.connect(server.wsUrl()));
    await clients[0]!.subscribe("metered");
    await clients[1]!.subscribe("metered");
    clients[2]!.send({ event: "pusher:ping" });
    await clients[2]!.next("pusher:pong");
    expect((await signedFetch(server.url, "POST", `/apps/${APP.app_id}/events`, { name: "e", channel: "metered", data: "{}" }, APP)).status).toBe(200);
    await clients[0]!.next("e");
    await clients[1]!.next("e");
    await signedFetch(server.url, "GET", `/apps/${APP.app_id}/channels`, undefined, { ...APP, secret: "wrong" });

    const text = await (await fetch(`${server.url}/metrics?token=s3cret`)).text();
    const app = `app="${APP.app_id}"`;
    expect(metric(text, "reverb_connections", app)).toBe(3);
    expect(metric(text, "reverb_subscribed_connections", app)).toBe(2);
    expect(metric(text, "reverb_channels", app)).toBe(1);
    expect(metric(text, "reverb_subscriptions", app)).toBe(2);
    // Received: two subscribes and a ping. Sent: three established, two succeeded, a pong, two events.
    expect(metric(text, "reverb_messages_received_total", app)).toBe(3);
    expect(metric(text, "reverb_messages_sent_total", app)).toBe(8);
    expect(metric(text, "reverb_http_requests_total", 'route="events",status="200"')).toBe(1);
    expect(metric(text, "reverb_http_requests_total", 'route="channels",status="401"')).toBe(1);
    expect(metric(text, "reverb_http_requests_total", 'route="websocket",status="101"')).toBe(3);
    expect(text).toContain("# TYPE reverb_messages_sent_total counter");
  });

  test("signed-in users are counted apart from presence members", async () => {
    const server = await serve("s3cret");
    for (const id of ["1", "1", "2"]) {
      const client = await RawClient.connect(server.wsUrl());
      clients.push(client);
      const userData = JSON.stringify({ id });
      client.send({ event: "pusher:signin", data: { auth: signUser(APP.key, APP.secret, client.socketId, userData), user_data: userData } });
      await client.next("pusher:signin_success");
    }
    const text = await (await fetch(`${server.url}/metrics?token=s3cret`)).text();
    expect(metric(text, "reverb_signed_in_users", `app="${APP.app_id}"`)).toBe(2);
    expect(metric(text, "reverb_presence_members", `app="${APP.app_id}"`)).toBe(0);
  });

  test("the dashboard feed reports the same numbers as JSON", async () => {
    const server = await serve("s3cret");
    clients.push(await RawClient.connect(server.wsUrl()));
    await clients[0]!.subscribe("fed");
    const data = (await (await fetch(`${server.url}/dashboard/data`, { headers: { Authorization: "Bearer s3cret" } })).json()) as {
      apps: Array<{ id: string; connections: number; topChannels: unknown[] }>;
    };
    expect(data.apps[0]).toMatchObject({ id: APP.app_id, connections: 1, topChannels: [{ name: "fed", subscribers: 1 }] });
  });

  test("the dashboard lists the 20 busiest channels, busiest first, ties by name", async () => {
    const server = await serve("s3cret");
    for (let i = 0; i < 3; i++) clients.push(await RawClient.connect(server.wsUrl()));
    const names = Array.from({ length: 23 }, (_, i) => `c${String(22 - i).padStart(2, "0")}`);
    for (const name of [...names, "b", "a"]) await clients[0]!.subscribe(name);
    await clients[1]!.subscribe("a");
    await clients[1]!.subscribe("b");
    await clients[2]!.subscribe("a");
    const data = (await (await fetch(`${server.url}/dashboard/data`, { headers: { Authorization: "Bearer s3cret" } })).json()) as {
      apps: Array<{ topChannels: unknown[] }>;
    };
    expect(data.apps[0]!.topChannels).toEqual([
      { name: "a", subscribers: 3 },
      { name: "b", subscribers: 2 },
      ...Array.from({ length: 18 }, (_, i) => ({ name: `c${String(i).padStart(2, "0")}`, subscribers: 1 })),
    ]);
  });
});
