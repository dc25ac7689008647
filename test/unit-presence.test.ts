import { expect, test } from "bun:test";
import * as v from "valibot";
import { localBus } from "../src/bus/bus.ts";
import { AppConfigSchema } from "../src/config/schema.ts";
import { AppRegistry } from "../src/core/app-state.ts";
import { NO_HOOKS } from "../src/core/hooks.ts";
import { Presence } from "../src/core/presence.ts";

function setup() {
  const apps = new AppRegistry([v.parse(AppConfigSchema, { app_id: "1", key: "k", secret: "s" })]);
  const app = apps.findById("1")!;
  const sent: Array<{ event: string; user: unknown }> = [];
  const presence = new Presence(apps, localBus.nodeId, localBus, NO_HOOKS, (_app, _channel, frame) => {
    const parsed = JSON.parse(frame) as { event: string; data: string };
    sent.push({ event: parsed.event.replace("pusher_internal:", ""), user: (JSON.parse(parsed.data) as { user_id: unknown }).user_id });
  }, (_app, user, online) => sent.push({ event: online ? "online" : "offline", user }), (error) => sent.push({ event: "error", user: String(error) }));
  return { app, presence, sent };
}

const drained = () => new Promise((resolve) => setTimeout(resolve, 50));

test("removals wait for the loop to turn and go out in order; joins go out at once", async () => {
  const { app, presence, sent } = setup();
  for (let user = 0; user < 1000; user++) presence.joined(app, "presence-x", "local", String(user), { user_id: user }, undefined);
  expect(sent).toHaveLength(1000);
  sent.length = 0;
  for (let user = 0; user < 1000; user++) presence.left(app, "presence-x", "local", String(user));
  expect(sent).toEqual([]);
  expect(app.rosters.get("presence-x")).toBeUndefined();
  await drained();
  expect(sent).toEqual(Array.from({ length: 1000 }, (_, user) => ({ event: "member_removed", user })));
});

test("a member who joins again while their removal waits is announced removed first, then added", async () => {
  const { app, presence, sent } = setup();
  presence.joined(app, "presence-x", "local", "7", { user_id: 7 }, undefined);
  presence.joined(app, "presence-x", "local", "8", { user_id: 8 }, undefined);
  presence.left(app, "presence-x", "local", "7");
  presence.left(app, "presence-x", "local", "8");
  presence.joined(app, "presence-x", "local", "7", { user_id: 7 }, undefined);
  await drained();
  expect(sent).toEqual([
    { event: "member_added", user: 7 },
    { event: "member_added", user: 8 },
    { event: "member_removed", user: 7 },
    { event: "member_added", user: 7 },
    { event: "member_removed", user: 8 },
  ]);
});

test("a member gone with another node leaves through the same queue", async () => {
  const { app, presence, sent } = setup();
  presence.joined(app, "presence-x", "node-b", "9", { user_id: "9" }, undefined);
  presence.replaceNode("node-b", null);
  expect(sent).toEqual([{ event: "member_added", user: "9" }]);
  await drained();
  expect(sent).toEqual([
    { event: "member_added", user: "9" },
    { event: "member_removed", user: "9" },
  ]);
});
