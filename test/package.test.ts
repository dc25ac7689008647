import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Pusher from "pusher-js";
import { bannerOf, runCommand, type CliProcess } from "./helpers/cli.ts";
import { signedFetch } from "./helpers/signing.ts";
import { within } from "./helpers/waits.ts";

// The package as users get it: `npm pack`, installed from the tarball into a scratch project, then
// started the three ways a user starts it.

const ROOT = join(import.meta.dir, "..");
const APP = { REVERB_APP_ID: "777", REVERB_APP_KEY: "packed-key", REVERB_APP_SECRET: "packed-secret" };

let scratch = "";
let packedFiles: string[] = [];
const running: CliProcess[] = [];

function run(command: string[], cwd: string): string {
  const result = Bun.spawnSync(command, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, npm_config_update_notifier: "false" } });
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed:\n${result.stderr.toString()}`);
  return result.stdout.toString();
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "reverb-uws-package-"));
  const [packed] = JSON.parse(run(["npm", "pack", "--json", "--pack-destination", scratch], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = packed!.files.map((file) => file.path);
  const project = join(scratch, "app");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "scratch-app", private: true }));
  // The registry packages are in npm's cache since the repo's own install.
  run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", join(scratch, packed!.filename)], project);
}, 120_000);

/** Starts `command` as the leader of its own process group, as a terminal or a supervisor would. */
function launch(command: string[], env: Record<string, string>): CliProcess {
  const server = runCommand([Bun.which("setsid") ?? "setsid", ...command], join(scratch, "app"), env);
  running.push(server);
  return server;
}

afterEach(async () => {
  for (const server of running.splice(0)) {
    try {
      process.kill(-server.child.pid, "SIGKILL");
    } catch {
      // The whole group is gone already.
    }
    await server.child.exited;
  }
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A PATH holding only `node`: no `bun` anywhere on it. */
function pathWithoutBun(): string {
  const dir = join(scratch, "node-only");
  mkdirSync(dir, { recursive: true });
  const node = Bun.which("node");
  if (!node) throw new Error("node is not on PATH");
  rmSync(join(dir, "node"), { force: true });
  symlinkSync(realpathSync(node), join(dir, "node"));
  return dir;
}

/** Serves /up and a pusher-js client that gets an event triggered through the signed API. */
async function servesClients(server: CliProcess): Promise<void> {
  const { port } = await bannerOf(server, 20_000);
  const up = await fetch(`http://127.0.0.1:${port}/up`);
  expect(await up.json()).toEqual({ health: "OK" });

  const pusher = new Pusher(APP.REVERB_APP_KEY, { wsHost: "127.0.0.1", wsPort: port, forceTLS: false, enabledTransports: ["ws"], cluster: "", disableStats: true });
  try {
    const channel = pusher.subscribe("packed");
    await within(new Promise<void>((resolve) => channel.bind("pusher:subscription_succeeded", () => resolve())), "pusher-js to subscribe");
    const received = new Promise<unknown>((resolve) => channel.bind("hello", resolve));
    const response = await signedFetch(`http://127.0.0.1:${port}`, "POST", `/apps/${APP.REVERB_APP_ID}/events`, { name: "hello", channel: "packed", data: '{"from":"packed"}' }, {
      key: APP.REVERB_APP_KEY,
      secret: APP.REVERB_APP_SECRET,
    });
    expect(response.status).toBe(200);
    expect(await within(received, "the event")).toEqual({ from: "packed" });
  } finally {
    pusher.disconnect();
  }
}

/** SIGTERM to the launched process alone reaches the server, and its exit status 0 comes back. */
async function drainsOnSigterm(server: CliProcess): Promise<void> {
  server.child.kill("SIGTERM");
  expect(await within(server.child.exited, "the server to exit", 15_000)).toBe(0);
  await server.drained;
  expect(server.output.text).toContain("SIGTERM: gracefully terminating connections");
}

describe("the packed package", () => {
  test("holds the server and its bin, and no tests, benches or fixtures", () => {
    expect(packedFiles).toContain("bin/reverb-uws.js");
    expect(packedFiles).toContain("src/cli.ts");
    expect(packedFiles.filter((path) => /^(test|bench|scripts|\.ci)\/|fixture|\.test\.ts$/.test(path))).toEqual([]);
  });

  const start = ["start", "--host", "127.0.0.1", "--port", "0"];

  test("npx reverb-uws start serves clients and drains on Ctrl-C", async () => {
    const server = launch(["npx", "--no-install", "reverb-uws", ...start], { ...APP, npm_config_update_notifier: "false" });
    await servesClients(server);
    // Ctrl-C in a terminal signals the whole group; npm's own exit status is npm's (130).
    process.kill(-server.child.pid, "SIGINT");
    await within(server.drained, "the server's output to end", 15_000);
    expect(server.output.text).toContain("SIGINT: gracefully terminating connections");
    expect(server.output.text).toContain("Stopped");
  }, 40_000);

  test("./node_modules/.bin/reverb-uws runs with no bun on PATH (a systemd or supervisor line)", async () => {
    const server = launch(["./node_modules/.bin/reverb-uws", ...start], { ...APP, PATH: pathWithoutBun() });
    await servesClients(server);
    await drainsOnSigterm(server);
  }, 40_000);

  test("bunx reverb-uws start runs the CLI in the Bun process bunx starts", async () => {
    const server = launch([process.execPath, "x", "reverb-uws", ...start], APP);
    await servesClients(server);
    // The runtime file names the serving process: bunx's own child, not a Node launcher's.
    const served = readdirSync(join(scratch, "app")).find((name) => /^\d+\.json$/.test(name));
    const pid = (JSON.parse(readFileSync(join(scratch, "app", served!), "utf8")) as { pid: number }).pid;
    const parent = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    expect(parent).toBe(server.child.pid);
    await drainsOnSigterm(server);
  }, 40_000);
});
