import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Pusher from "pusher-js";
import { signUser } from "../src/protocol/signatures.ts";
import { BOX_METRICS_TOKEN, startBox, type Box } from "./helpers/box.ts";
import { runCliToEnd } from "./helpers/cli.ts";
import { startNode, stopFleet } from "./helpers/fleet.ts";
import { KeepAlive } from "./helpers/keep-alive.ts";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { RedisServer } from "./helpers/redis.ts";
import { APP } from "./helpers/server.ts";
import { signedFetch, signedQuery } from "./helpers/signing.ts";
import { until, within } from "./helpers/waits.ts";

// One port, two worker processes: every client below is placed on a named worker (the kernel
// spreads connections; the helper reconnects until one lands where the test wants it), so each
// behaviour is shown across the two processes, as a single server shows it.

let box: Box;

beforeAll(async () => {
  box = await startBox(2);
}, 20_000);

afterAll(() => box.stop());

function get(path: string, params: Record<string, string> = {}) {
  return signedFetch(box.url, "GET", `/apps/${APP.app_id}${path}`, undefined, { ...APP, params });
}

function trigger(body: Record<string, unknown>) {
  return signedFetch(box.url, "POST", `/apps/${APP.app_id}/events`, body, APP);
}

async function member(worker: number, channel: string, user: number, on: Box = box): Promise<RawClient> {
  const client = await on.connectTo(worker);
  await client.join(channel, { user_id: user, user_info: { name: `User ${user}` } });
  return client;
}

describe("start --workers 2", () => {
  test("the banner names the workers and the open-files room of the box", async () => {
    // The lines after the banner may reach the pipe in a later chunk.
    await until(() => box.cli.output.text.includes("Open files limit"), "the open-files line");
    expect(box.cli.output.text).toMatch(/Starting server on 127\.0\.0\.1:\d+ with 2 workers/);
    expect(box.cli.output.text).toMatch(/room for about \d+ connections per process, \d+ for the 2 workers/);
  });

  test("an event through the API reaches subscribers on both workers, once each", async () => {
    const [a, b] = [await box.connectTo(0), await box.connectTo(1)];
    for (const client of [a, b]) await client.subscribe("box-news");
    for (let i = 0; i < 3; i++) expect((await trigger({ name: "news", channel: "box-news", data: String(i) })).status).toBe(200);
    for (const client of [a, b]) await client.waitFor(() => client.count("news") === 3, "three events");
    await quiet(200);
    expect([a.count("news"), b.count("news")]).toEqual([3, 3]);
    expect(b.frames.filter((frame) => frame.event === "news").map((frame) => frame.data)).toEqual(["0", "1", "2"]);
  });

  test("socket_id exclusion skips a socket on the other worker", async () => {
    const [a, b] = [await box.connectTo(0), await box.connectTo(1)];
    for (const client of [a, b]) await client.subscribe("box-others");
    await trigger({ name: "others", channel: "box-others", data: "{}", socket_id: b.socketId });
    await a.next("others");
    await quiet(200);
    expect(b.count("others")).toBe(0);
  });

  test("client events cross workers and skip their sender", async () => {
    const [a, b] = [await member(0, "presence-box-whisper", 1), await member(1, "presence-box-whisper", 2)];
    a.send({ event: "client-typing", channel: "presence-box-whisper", data: { who: "a" } });
    const heard = await b.next("client-typing");
    expect(heard.data).toEqual({ who: "a" });
    expect(heard.user_id).toBe(1);
    await quiet(200);
    expect(a.count("client-typing")).toBe(0);
  });

  test("presence is box-wide: one member per user, removed after their last socket on any worker", async () => {
    const channel = "presence-box";
    const observer = await member(0, channel, 9);
    const first = await member(0, channel, 1);
    const second = await member(1, channel, 1);
    await observer.next("pusher_internal:member_added");
    await quiet(200);
    expect(observer.count("pusher_internal:member_added")).toBe(1);

    const late = await member(1, channel, 2);
    const succeeded = late.frames.find((frame) => frame.event === "pusher_internal:subscription_succeeded")!;
    const { presence } = JSON.parse(succeeded.data as string) as { presence: { count: number; ids: number[] } };
    expect(presence.count).toBe(3);
    expect(presence.ids.toSorted()).toEqual([1, 2, 9]);
    expect(await (await get(`/channels/${channel}`, { info: "user_count" })).json()).toEqual({ occupied: true, user_count: 3 });

    first.close();
    await quiet(300);
    expect(observer.count("pusher_internal:member_removed")).toBe(0);
    second.close();
    expect(JSON.parse((await observer.next("pusher_internal:member_removed")).data as string)).toEqual({ user_id: 1 });
  });

  test("HTTP queries count both workers", async () => {
    const clients = [await box.connectTo(0), await box.connectTo(1), await box.connectTo(1)];
    for (const client of clients) await client.subscribe("box-count");
    // Whichever worker the request lands on answers for the box.
    for (let i = 0; i < 4; i++) {
      expect(await (await get("/channels/box-count", { info: "subscription_count" })).json()).toEqual({ occupied: true, subscription_count: 3 });
      expect(await (await get("/channels", { filter_by_prefix: "box-count", info: "subscription_count" })).json()).toEqual({
        channels: { "box-count": { subscription_count: 3 } },
      });
    }
  });

  test("a cache channel's last event is replayed by the other worker", async () => {
    const writer = await box.connectTo(0);
    await writer.subscribe("cache-box");
    await trigger({ name: "cached", channel: "cache-box", data: "remembered" });
    await writer.next("cached");
    const reader = await box.connectTo(1);
    await reader.subscribe("cache-box");
    expect((await reader.next("cached")).data).toBe("remembered");
  });

  test("terminate_connections closes the user's sockets on both workers", async () => {
    const [a, b] = [await member(0, "presence-box-terminate", 42), await member(1, "presence-box-terminate", 42)];
    const response = await signedFetch(box.url, "POST", `/apps/${APP.app_id}/users/42/terminate_connections`, {}, APP);
    expect(response.status).toBe(200);
    await within(Promise.all([a.closed, b.closed]), "both sockets to close");
  });

  test("pusher-js connects through the shared port", async () => {
    const pusher = new Pusher(APP.key, { wsHost: "127.0.0.1", wsPort: box.port, forceTLS: false, enabledTransports: ["ws"], cluster: "", disableStats: true });
    try {
      const channel = pusher.subscribe("box-pusher");
      await within(new Promise<void>((resolve) => channel.bind("pusher:subscription_succeeded", () => resolve())), "subscription");
      const got = new Promise((resolve) => channel.bind("hi", resolve));
      await trigger({ name: "hi", channel: "box-pusher", data: '{"ok":true}' });
      expect(await within(got, "the event")).toEqual({ ok: true });
    } finally {
      pusher.disconnect();
    }
  });

  test("kill -9 of a worker: its members are gone box-wide at once, and a new worker takes its place", async () => {
    const channel = "presence-box-crash";
    const observer = await member(0, channel, 1);
    const victim = await member(1, channel, 2);
    await observer.next("pusher_internal:member_added");
    process.kill(await workerPid(1), "SIGKILL");
    const killedAt = Date.now();
    const removed = await observer.next("pusher_internal:member_removed", 0, 3000);
    expect(Date.now() - killedAt).toBeLessThan(1000);
    expect(JSON.parse(removed.data as string)).toEqual({ user_id: 2 });
    expect((await victim.closed).code).toBe(1006);
    await until(() => /Worker 1 \(pid \d+\) exited with signal SIGKILL: restarting it/.test(box.cli.output.text), "the restart line");
    await until(() => /Worker 1 \(pid \d+\) is serving again/.test(box.cli.output.text), "the new worker 1");
    // The replacement serves: a client placed on worker 1 again is served and hears the box.
    const from = observer.frames.length;
    const back = await member(1, channel, 3);
    expect(JSON.parse((await observer.next("pusher_internal:member_added", from)).data as string).user_id).toBe(3);
    back.close();
  });

  test("/metrics shows the box whichever worker answers: totals, and per-worker numbers", async () => {
    const [a, b] = [await box.connectTo(0), await box.connectTo(1)];
    const scrape = async () => {
      const response = await fetch(`${box.url}/metrics`, { headers: { Authorization: `Bearer ${BOX_METRICS_TOKEN}` } });
      expect(response.status).toBe(200);
      const text = await response.text();
      const value = (sample: string) => Number(new RegExp(`^${sample.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1]);
      return {
        workers: value("reverb_workers"),
        total: value(`reverb_connections{app="${APP.app_id}"}`),
        perWorker: [value('reverb_worker_connections{worker="0"}'), value('reverb_worker_connections{worker="1"}')],
        peers: value("reverb_bus_peers"),
      };
    };
    // Several scrapes land on both workers; each answers for both.
    for (let i = 0; i < 6; i++) {
      const numbers = await scrape();
      expect(numbers.workers).toBe(2);
      expect(numbers.peers).toBe(1);
      expect(numbers.perWorker.every((count) => count >= 1)).toBe(true);
      expect(numbers.total).toBe(numbers.perWorker[0]! + numbers.perWorker[1]!);
    }
    a.close();
    b.close();
  });
});

/** The pid of worker `index`: the primary's child whose environment names it. */
async function workerPid(index: number, on: Box = box): Promise<number> {
  const primary = on.cli.child.pid;
  const children = (await Bun.file(`/proc/${primary}/task/${primary}/children`).text()).trim().split(" ").map(Number);
  for (const pid of children) {
    const environ = await Bun.file(`/proc/${pid}/environ`).text();
    if (environ.split("\0").includes(`REVERB_WORKER_INDEX=${index}`)) return pid;
  }
  throw new Error(`no worker ${index} under pid ${primary}`);
}

/** A keep-alive HTTP connection that worker `index` serves: its `/dashboard/data` names its node, whose id holds its pid. */
async function httpTo(index: number, on: Box = box): Promise<KeepAlive> {
  const pid = await workerPid(index, on);
  for (let attempt = 0; attempt < 60; attempt++) {
    const http = await KeepAlive.open(on.port);
    const answer = await http.request("GET", "/dashboard/data", "", { Authorization: `Bearer ${BOX_METRICS_TOKEN}` });
    if ((JSON.parse(answer.body) as { node: string }).node.includes(`-${pid}-`)) return http;
    http.close();
  }
  throw new Error(`no HTTP connection reached worker ${index} in 60 attempts`);
}

async function triggerOn(http: KeepAlive, body: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(body);
  const path = `/apps/${APP.app_id}/events`;
  const answer = await http.request("POST", `${path}?${signedQuery("POST", path, text, APP)}`, text, { "Content-Type": "application/json" });
  expect(answer.status).toBe(200);
}

/** Events the primary kept from worker `index` so far, as /metrics shows them. */
async function skippedBy(index: number, on: Box = box): Promise<number> {
  const response = await fetch(`${on.url}/metrics`, { headers: { Authorization: `Bearer ${BOX_METRICS_TOKEN}` } });
  const text = await response.text();
  return Number(new RegExp(`^reverb_worker_bus_skipped_total\\{worker="${index}"\\} (\\d+)$`, "m").exec(text)?.[1]);
}

describe("events go only to workers with a subscriber on the channel", () => {
  test("an API event sent on another worker the moment subscription_succeeded arrives is never lost", async () => {
    const [subscriber, http] = [await box.connectTo(0), await httpTo(1)];
    try {
      for (let round = 0; round < 50; round++) {
        const channel = `private-race-api-${round}`;
        await subscriber.join(channel);
        const from = subscriber.frames.length;
        await triggerOn(http, { name: "raced", channel, data: String(round) });
        expect((await subscriber.next("raced", from, 2000)).channel).toBe(channel);
      }
    } finally {
      http.close();
    }
  });

  test("a client event sent on another worker the moment subscription_succeeded arrives is never lost", async () => {
    const [subscriber, sender] = [await box.connectTo(0), await box.connectTo(1)];
    for (let round = 0; round < 50; round++) {
      const channel = `private-race-client-${round}`;
      await sender.join(channel);
      await subscriber.join(channel);
      const from = subscriber.frames.length;
      sender.send({ event: "client-raced", channel, data: { round } });
      expect((await subscriber.next("client-raced", from, 2000)).channel).toBe(channel);
    }
  });

  test("subscription_succeeded of a channel new to the worker waits for the primary; the next subscriber there does not", async () => {
    const [first, second, third] = [await box.connectTo(0), await box.connectTo(0), await box.connectTo(0)];
    const primary = box.cli.child.pid;
    process.kill(primary, "SIGSTOP");
    try {
      first.send({ event: "pusher:subscribe", data: { channel: "held-by-the-primary" } });
      // Replies keep the order of the requests: this one waits behind the first.
      first.send({ event: "pusher:ping" });
      await quiet(300);
      expect(first.frames.slice(1)).toEqual([]);
      // Presence channels reach every worker anyway: nothing to wait for.
      await third.join("presence-not-held", { user_id: 7 });
    } finally {
      process.kill(primary, "SIGCONT");
    }
    await first.next("pusher:pong");
    expect(first.frames.slice(1).map((frame) => frame.event)).toEqual(["pusher_internal:subscription_succeeded", "pusher:pong"]);
    process.kill(primary, "SIGSTOP");
    try {
      await second.subscribe("held-by-the-primary");
    } finally {
      process.kill(primary, "SIGCONT");
    }
  });

  test("a message to a user sent on another worker the moment signin_success arrives is never lost", async () => {
    const http = await httpTo(1);
    try {
      for (let round = 0; round < 20; round++) {
        const client = await box.connectTo(0);
        const userData = JSON.stringify({ id: `racer-${round}` });
        client.send({ event: "pusher:signin", data: { auth: signUser(APP.key, APP.secret, client.socketId, userData), user_data: userData } });
        await client.next("pusher:signin_success");
        const from = client.frames.length;
        await triggerOn(http, { name: "for-you", channel: `#server-to-user-racer-${round}`, data: String(round) });
        expect((await client.next("for-you", from, 2000)).data).toBe(String(round));
        client.close();
      }
    } finally {
      http.close();
    }
  });

  test("a worker with no subscriber on a channel never gets its events; presence and cache channels reach every worker", async () => {
    const [a, http] = [await box.connectTo(0), await httpTo(0)];
    const bystander = await box.connectTo(1);
    try {
      await a.join("private-only-here");
      await a.join("presence-everywhere", { user_id: 1 });
      await a.subscribe("cache-everywhere");
      const before = await skippedBy(1);
      for (let i = 0; i < 20; i++) await triggerOn(http, { name: "mine", channel: "private-only-here", data: String(i) });
      for (let i = 0; i < 5; i++) await triggerOn(http, { name: "all", channel: "presence-everywhere", data: String(i) });
      await triggerOn(http, { name: "kept", channel: "cache-everywhere", data: "for later" });
      await a.waitFor(() => a.count("mine") === 20 && a.count("all") === 5 && a.count("kept") === 1, "every event on worker 0");
      // Worker 1 learns its count with its next delivery: any scrape brings one.
      await until(async () => (await skippedBy(1)) - before >= 20, "worker 1's skipped events");
      await quiet(200);
      expect((await skippedBy(1)) - before).toBe(20);
      // The cache event went to worker 1 too: it replays it to its own late subscriber.
      await bystander.subscribe("cache-everywhere");
      expect((await bystander.next("kept")).data).toBe("for later");
    } finally {
      http.close();
    }
  });

  test("unsubscribing and subscribing again quickly: events still arrive", async () => {
    const [subscriber, http] = [await box.connectTo(0), await httpTo(1)];
    const channel = "private-flap";
    try {
      // Several changes in flight at once, before any answer: one subscription_succeeded, for the last.
      for (let i = 0; i < 5; i++) {
        subscriber.send({ event: "pusher:unsubscribe", data: { channel } });
        await subscriber.join(channel);
      }
      for (let round = 0; round < 10; round++) {
        subscriber.send({ event: "pusher:unsubscribe", data: { channel } });
        await subscriber.join(channel);
        const from = subscriber.frames.length;
        await triggerOn(http, { name: "flapped", channel, data: String(round) });
        expect((await subscriber.next("flapped", from, 2000)).data).toBe(String(round));
      }
      await quiet(200);
      expect(subscriber.count("flapped")).toBe(10);
    } finally {
      http.close();
    }
  });

  test("sockets subscribing to a channel new to their worker all wait for the same answer, and all get the events", async () => {
    const clients = [await box.connectTo(0), await box.connectTo(0), await box.connectTo(0)];
    const http = await httpTo(1);
    try {
      const channel = "private-together";
      await Promise.all(clients.map((client) => client.join(channel)));
      await triggerOn(http, { name: "together", channel, data: "x" });
      for (const client of clients) await client.next("together");
      // One closes before anything is answered: the others are not affected.
      const leaver = await box.connectTo(0);
      leaver.send({ event: "pusher:subscribe", data: { channel: "left-early" } });
      leaver.close();
      await triggerOn(http, { name: "together", channel, data: "y" });
      for (const client of clients) await client.waitFor(() => client.count("together") === 2, "the second event");
    } finally {
      http.close();
    }
  });
});

describe("the primary forgets a dead worker's channels", () => {
  test("kill -9 of a worker: the new worker's subscribers get the channel's events", async () => {
    const own = await startBox(2);
    try {
      const channel = "private-survivor";
      const before = await own.connectTo(1);
      await before.join(channel);
      const http = await httpTo(0, own);
      process.kill(await workerPid(1, own), "SIGKILL");
      await until(() => /Worker 1 \(pid \d+\) is serving again/.test(own.cli.output.text), "the new worker 1");
      const after = await own.connectTo(1);
      await after.join(channel);
      await triggerOn(http, { name: "again", channel, data: "z" });
      expect((await after.next("again")).data).toBe("z");
      http.close();
    } finally {
      await own.stop();
    }
  });
});

describe("the primary owns the signals", () => {
  test("SIGTERM drains every worker: clients on both get 4200, and the box exits 0", async () => {
    const own = await startBox(2);
    try {
      const [a, b] = [await own.connectTo(0), await own.connectTo(1)];
      own.cli.child.kill("SIGTERM");
      expect((await a.closed).code).toBe(4200);
      expect((await b.closed).code).toBe(4200);
      expect(await within(own.cli.child.exited, "the primary to exit", 10_000)).toBe(0);
      await own.cli.drained;
      expect(own.cli.output.text).toContain("[worker 0] INFO  SIGTERM: gracefully terminating connections");
      expect(own.cli.output.text).toContain("[worker 1] INFO  SIGTERM: gracefully terminating connections");
    } finally {
      await own.stop();
    }
  });

  test("reverb-uws restart reaches every worker through the primary, which exits 0 to be started again", async () => {
    const own = await startBox(2);
    try {
      const [a, b] = [await own.connectTo(0), await own.connectTo(1)];
      const restart = await runCliToEnd(["restart"], own.dir);
      expect(restart.status).toBe(0);
      expect(restart.text).toContain(`(pid ${own.cli.child.pid})`);
      expect((await a.closed).code).toBe(4200);
      expect((await b.closed).code).toBe(4200);
      expect(await within(own.cli.child.exited, "the primary to exit", 10_000)).toBe(0);
    } finally {
      await own.stop();
    }
  });
});

describe("box-wide limits", () => {
  test("max_connections counts both workers", async () => {
    const own = await startBox(2, { max_connections: 3 }, { scaling: { node_timeout: 2 } });
    try {
      // One on each worker, then a third anywhere: no worker holds 3 itself, only the box does.
      // (Placing a client opens and closes others; with a limit of 3 none of those is refused.)
      await own.connectTo(0);
      await own.connectTo(1);
      own.clients.push(await RawClient.connect(own.wsUrl()));
      // Each worker hears the other's count with its next heartbeat (node_timeout / 4).
      await quiet(1200);
      for (let i = 0; i < 4; i++) {
        const refused = await RawClient.connect(own.wsUrl());
        expect(refused.frames[0]!.event).toBe("pusher:error");
        expect((await refused.closed).code).toBe(4004);
      }
    } finally {
      await own.stop();
    }
  });
});

describe("a wedged worker", () => {
  test("gets nothing past max_backlog (dropped, counted, logged) while the others are served, and catches up after", async () => {
    const own = await startBox(2, {}, { scaling: { max_backlog: 50 } });
    try {
      const channel = "private-wedge";
      const privateOn = async (worker: number) => {
        const client = await own.connectTo(worker);
        await client.join(channel);
        return client;
      };
      const [sender, neighbour, wedged] = [await privateOn(0), await privateOn(0), await privateOn(1)];
      const wedgedPid = await workerPid(1, own);
      process.kill(wedgedPid, "SIGSTOP");
      try {
        for (let i = 0; i < 300; i++) sender.send({ event: "client-tick", channel, data: { i } });
        await neighbour.waitFor(() => neighbour.count("client-tick") === 300, "300 ticks next door");
        await until(() => own.cli.output.text.includes("Worker 1 is 50 bus envelopes behind: dropping what it cannot take"), "the drop warning");
      } finally {
        process.kill(wedgedPid, "SIGCONT");
      }
      // It gets what fitted in its backlog, then live events again once it has caught up.
      await wedged.waitFor(() => wedged.count("client-tick") >= 40, "the backlog it could take");
      expect(wedged.count("client-tick")).toBeLessThanOrEqual(60);
      await until(async () => {
        sender.send({ event: "client-after", channel, data: {} });
        await quiet(50);
        return wedged.count("client-after") > 0;
      }, "live events on the wedged worker again", 5_000);
    } finally {
      await own.stop();
    }
  });
});

describe("workers with scaling on", () => {
  test("every worker is a node of the Redis fleet: events and presence cross boxes and workers", async () => {
    const redis = await RedisServer.start();
    const scaling = { enabled: true, node_timeout: 3, query_timeout: 1000, server: { url: redis.url } };
    const own = await startBox(2, {}, { scaling });
    const other = await startNode({ redisUrl: redis.url, nodeTimeout: 3 });
    try {
      await until(() => (own.cli.output.text.match(/joined the fleet/g) ?? []).length >= 4, "both workers to hear the fleet", 10_000);
      const [a, b] = [await own.connectTo(0), await own.connectTo(1)];
      for (const client of [a, b]) await client.subscribe("fleet-box");
      const response = await signedFetch(other.url, "POST", `/apps/${APP.app_id}/events`, { name: "from-b", channel: "fleet-box", data: "x" }, APP);
      expect(response.status).toBe(200);
      for (const client of [a, b]) expect((await client.next("from-b")).data).toBe("x");

      const observer = await RawClient.connect(other.wsUrl());
      await observer.join("presence-fleet-box", { user_id: 5 });
      const joiner = await member(1, "presence-fleet-box", 6, own);
      expect(JSON.parse((await observer.next("pusher_internal:member_added")).data as string).user_id).toBe(6);
      joiner.close();
      expect(JSON.parse((await observer.next("pusher_internal:member_removed")).data as string)).toEqual({ user_id: 6 });
      observer.close();
    } finally {
      await own.stop();
      await stopFleet([other]);
      await redis.kill();
    }
  }, 30_000);
});
