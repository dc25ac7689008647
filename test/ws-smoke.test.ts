import { test, expect } from "bun:test";
import { startTestServer, APP } from "./helpers/server.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";

test("smoke 1009", async () => {
  const server = startTestServer({ apps: [{ ...APP, max_message_size: 100 }, { app_id: "2", key: "k2", secret: "s2", max_message_size: 0 }] });
  try {
    const c = await RawClient.connect(server.wsUrl());
    c.send("x".repeat(101));
    console.log(await c.closed, c.raw);
    const d = await RawClient.connect(server.wsUrl());
    d.send("é".repeat(60));
    console.log(await d.closed, d.raw);
    const e = await RawClient.connect(server.wsUrl());
    e.send(new TextEncoder().encode('{"event":"pusher:ping"}'));
    e.ws.addEventListener("pong", (ev) => console.log("pong event", ev.data));
    e.ws.ping("hi");
    await quiet(200);
    console.log(e.raw);
    e.close();
  } finally { await server.stop(); }
});
test("smoke 1009 uws", async () => {
  const server = startTestServer({ apps: [{ ...APP, max_message_size: 100 }] });
  try {
    const c = await RawClient.connect(server.wsUrl());
    c.send("x".repeat(101));
    console.log(await c.closed, c.raw);
    const d = await RawClient.connect(server.wsUrl());
    d.send("é".repeat(60));
    console.log(await d.closed, d.raw);
  } finally { await server.stop(); }
});
