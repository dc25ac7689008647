import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDotEnv } from "../src/config/env.ts";
import { ECHO_SNIPPET, updateDotEnv } from "../src/install.ts";
import { bannerOf, runCli, runCliToEnd, type CliProcess } from "./helpers/cli.ts";
import { RawClient } from "./helpers/raw-client.ts";

const dirs: string[] = [];
const running: CliProcess[] = [];

afterEach(() => {
  for (const run of running.splice(0)) run.child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(dotEnv?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-install-"));
  dirs.push(dir);
  if (dotEnv !== undefined) writeFileSync(join(dir, ".env"), dotEnv);
  return dir;
}

const readEnv = (dir: string) => readFileSync(join(dir, ".env"), "utf8");

/** The block `reverb:install` writes, one pattern per line. */
const WRITTEN = [
  /^REVERB_APP_ID=[1-9]\d{5}$/,
  /^REVERB_APP_KEY=[a-z0-9]{20}$/,
  /^REVERB_APP_SECRET=[a-z0-9]{20}$/,
  /^REVERB_HOST="localhost"$/,
  /^REVERB_PORT=8080$/,
  /^REVERB_SCHEME=http$/,
  /^$/,
  /^VITE_REVERB_APP_KEY="\$\{REVERB_APP_KEY\}"$/,
  /^VITE_REVERB_HOST="\$\{REVERB_HOST\}"$/,
  /^VITE_REVERB_PORT="\$\{REVERB_PORT\}"$/,
  /^VITE_REVERB_SCHEME="\$\{REVERB_SCHEME\}"$/,
];

describe("reverb-uws install", () => {
  test("in an empty folder it writes a .env that `reverb-uws start` then serves", async () => {
    const dir = scratch();
    const install = await runCliToEnd(["install"], dir, { HOME: dir });
    expect(install.status).toBe(0);
    const lines = readEnv(dir).split("\n");
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(0, -1)).toHaveLength(WRITTEN.length);
    WRITTEN.forEach((pattern, index) => expect(lines[index]).toMatch(pattern));

    const values = parseDotEnv(readEnv(dir));
    expect(install.text).toContain(`wrote REVERB_APP_ID=${values.REVERB_APP_ID}`);
    expect(install.text).toContain(`wrote REVERB_APP_KEY=${values.REVERB_APP_KEY}`);
    expect(install.text).not.toContain(values.REVERB_APP_SECRET!);
    expect(install.text).toContain(ECHO_SNIPPET);

    // The server reads the file as it is: the VITE_ lines' ${...} are left alone and unused.
    const server = runCli(["start", "--host", "127.0.0.1", "--port", "0"], dir, { HOME: dir });
    running.push(server);
    const { port, secure } = await bannerOf(server);
    expect(secure).toBe(false);
    expect(server.output.text).toContain(`(localhost)`);
    expect(server.output.text).not.toContain("No app configured");
    const client = await RawClient.connect(`ws://127.0.0.1:${port}/app/${values.REVERB_APP_KEY}`);
    expect(client.frames[0]!.event).toBe("pusher:connection_established");
    client.close();
  });

  test("keeps set values and every other line; fills empty ones; --force replaces them all", async () => {
    const before = 'APP_NAME=Laravel\n# broadcasting\nREVERB_HOST="ws.example.com"\nREVERB_APP_KEY=\nAPP_URL=http://localhost\n';
    const dir = scratch(before);

    const first = await runCliToEnd(["install"], dir, { HOME: dir });
    expect(first.status).toBe(0);
    const installed = readEnv(dir);
    const lines = installed.split("\n");
    expect(lines.slice(0, 5)).toEqual(["APP_NAME=Laravel", "# broadcasting", 'REVERB_HOST="ws.example.com"', lines[3]!, "APP_URL=http://localhost"]);
    expect(lines[3]).toMatch(/^REVERB_APP_KEY=[a-z0-9]{20}$/);
    expect(first.text).toContain("kept  REVERB_HOST=ws.example.com");
    const values = parseDotEnv(installed);
    expect(Object.keys(values).filter((name) => name.includes("REVERB")).sort()).toEqual(
      ["REVERB_APP_ID", "REVERB_APP_KEY", "REVERB_APP_SECRET", "REVERB_HOST", "REVERB_PORT", "REVERB_SCHEME", "VITE_REVERB_APP_KEY", "VITE_REVERB_HOST", "VITE_REVERB_PORT", "VITE_REVERB_SCHEME"],
    );

    const second = await runCliToEnd(["install"], dir, { HOME: dir });
    expect(second.status).toBe(0);
    expect(readEnv(dir)).toBe(installed);
    expect(second.text).not.toContain("wrote");
    expect(second.text).toContain("kept  REVERB_APP_SECRET\n");
    expect(second.text).toContain("`reverb-uws install --force` replaces them");

    const forced = await runCliToEnd(["install", "--force"], dir, { HOME: dir });
    expect(forced.status).toBe(0);
    const replaced = parseDotEnv(readEnv(dir));
    for (const name of ["REVERB_APP_ID", "REVERB_APP_KEY", "REVERB_APP_SECRET"]) expect(replaced[name]).not.toBe(values[name]!);
    expect(replaced.REVERB_HOST).toBe("localhost");
    expect(replaced.APP_NAME).toBe("Laravel");
    expect(readEnv(dir).split("\n")).toHaveLength(lines.length);
  });

  test("a CRLF .env stays CRLF", () => {
    expect(updateDotEnv("A=1\r\n", [[["B", "2"]]], false).text).toBe("A=1\r\n\r\nB=2\r\n");
  });

  test("the README shows the laravel-echo snippet install prints", () => {
    expect(readFileSync(join(import.meta.dir, "..", "README.md"), "utf8")).toContain(ECHO_SNIPPET);
  });
});
