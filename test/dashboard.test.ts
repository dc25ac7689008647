import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { signChannel } from "../src/protocol/signatures.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch } from "./helpers/signing.ts";
import { until } from "./helpers/waits.ts";

/** The Chromium `npm test` provisions (scripts/provision-tests.ts); playwright-core downloads none. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// The dashboard in a real headless Chromium (Debian's package, driven by playwright-core; no
// downloaded browsers), fed by a real server and real traffic.
const TOKEN = "dash-s3cret";
const ARTIFACTS = join(import.meta.dir, "..", "test-artifacts");
const APP_SECTION = `[data-app="${APP.app_id}"]`;

const servers: TestServer[] = [];
const clients: RawClient[] = [];
let profile = "";
let browser: BrowserContext | undefined;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), "reverb-dashboard-"));
  // Playwright refuses --user-data-dir in args; a persistent context on a fresh directory is the same thing.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await browser?.close();
  for (const server of servers.splice(0)) await server.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function serve(token: string, options: { port?: number; path?: string } = {}): Promise<TestServer> {
  const server = await startTestServer({ server: { metrics_token: token, ...options } });
  servers.push(server);
  return server;
}

async function openDashboard(server: TestServer, token: string): Promise<Page> {
  const page = await browser!.newPage();
  const response = await page.goto(`${server.url}/dashboard?token=${token}`);
  expect(response?.status()).toBe(200);
  return page;
}

async function connect(server: TestServer): Promise<RawClient> {
  const client = await RawClient.connect(server.wsUrl());
  clients.push(client);
  return client;
}

/** Subscribes with the signature a Laravel auth endpoint would give (private and presence channels). */
function subscribeSigned(client: RawClient, channel: string, channelData: string | null = null) {
  return client.subscribe(channel, {
    auth: signChannel(APP.key, APP.secret, client.socketId, channel, channelData),
    ...(channelData === null ? {} : { channel_data: channelData }),
  });
}

const numberAt = async (page: Page, selector: string, attribute: string) => Number(await page.getAttribute(selector, attribute));

test("shows the app's live numbers, charts and channels", async () => {
  const server = await serve(TOKEN);
  const page = await openDashboard(server, TOKEN);
  await page.waitForSelector(`${APP_SECTION} [data-stat="connections"][data-value="0"]`);
  expect(await page.getAttribute("#status", "data-state")).toBe("ok");
  expect(await page.textContent(`${APP_SECTION} [data-table="channels"] tbody`)).toContain("No channels.");
  expect(await page.isHidden("#bus")).toBe(true); // no Redis bus on a single node

  const [a, b, c, d] = [await connect(server), await connect(server), await connect(server), await connect(server)];
  const idle = await connect(server);
  await a.subscribe("public-feed");
  await b.subscribe("public-feed");
  await subscribeSigned(c, "private-orders.42");
  await subscribeSigned(d, "presence-lobby", JSON.stringify({ user_id: 7, user_info: { name: "Ada" } }));
  await page.waitForSelector(`${APP_SECTION} [data-stat="connections"][data-value="5"]`);
  for (const [stat, value] of Object.entries({ subscribedConnections: 4, channels: 3, subscriptions: 4, presenceMembers: 1 })) {
    expect(await numberAt(page, `${APP_SECTION} [data-stat="${stat}"]`, "data-value")).toBe(value);
  }
  expect(await page.textContent(`${APP_SECTION} tr[data-channel="public-feed"]`)).toContain("2");

  // Steady traffic until the page has seen it across polls: API events out, pings in.
  let sending = true;
  const traffic = (async () => {
    while (sending) {
      const response = await signedFetch(server.url, "POST", `/apps/${APP.app_id}/events`, { name: "tick", channel: "public-feed", data: "{}" }, APP);
      expect(response.status).toBe(200);
      idle.send({ event: "pusher:ping" });
      await Bun.sleep(50);
    }
  })();
  try {
    const messages = `${APP_SECTION} [data-chart="messages"]`;
    const lastSent = () => numberAt(page, messages, "data-last-sent");
    const lastReceived = () => numberAt(page, messages, "data-last-received");
    await until(async () => (await lastSent()) > 0 && (await lastReceived()) > 0, "a messages/s above 0");
    const points = await numberAt(page, messages, "data-points");
    const connectionPoints = await numberAt(page, `${APP_SECTION} [data-chart="connections"]`, "data-points");
    await until(async () => (await numberAt(page, messages, "data-points")) >= points + 2, "two more chart points");
    expect(await numberAt(page, `${APP_SECTION} [data-chart="connections"]`, "data-points")).toBeGreaterThan(connectionPoints);
    expect(await lastSent()).toBeGreaterThan(0);

    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
  } finally {
    sending = false;
    await traffic;
  }
}, 12_000);

test("says so when the server is unreachable or the token is wrong", async () => {
  // Behind a route prefix too: the page finds its feed relative to its own URL.
  const server = await serve(TOKEN, { path: "realtime" });
  const page = await openDashboard(server, TOKEN);
  expect(page.url()).toContain("/realtime/dashboard?");
  await page.waitForSelector(`#status[data-state="ok"]`, { state: "attached" });
  await page.waitForSelector(APP_SECTION);

  await server.stop();
  servers.splice(servers.indexOf(server), 1);
  await page.waitForSelector(`#status[data-state="unreachable"]`, { timeout: 5000 });
  expect(await page.textContent("#status")).toContain("unreachable");
  // The last numbers stay on screen for whoever is watching the outage.
  expect(await page.isVisible(APP_SECTION)).toBe(true);

  // Back on the same port, but with a rotated token: the open page's token is now wrong.
  const rotated = await serve("rotated", { port: server.port, path: "realtime" });
  await page.waitForSelector(`#status[data-state="unauthorized"]`, { timeout: 5000 });
  expect(await page.textContent("#status")).toContain("token");
  await page.screenshot({ path: join(ARTIFACTS, "dashboard-unauthorized.png") });

  // Opened with a wrong token, the page itself loads and says what is wrong.
  const fresh = await openDashboard(rotated, "not-the-token");
  await fresh.waitForSelector(`#status[data-state="unauthorized"]`, { timeout: 5000 });
}, 10_000);
