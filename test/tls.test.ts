import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { certificateDirectories, discoverTls, type DiscoveryInput } from "../src/config/tls.ts";
import { runTlsPusherClient, selfSignedCertificate } from "./helpers/certificates.ts";
import { bannerOf, runCli, runCliToEnd, type CliProcess } from "./helpers/cli.ts";
import { signedQuery } from "./helpers/signing.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";

const CREDENTIALS = { REVERB_APP_ID: APP.app_id, REVERB_APP_KEY: APP.key, REVERB_APP_SECRET: APP.secret };

let certificates: string;
let cert: string;
let key: string;
/** The certificate as a CA: it is self-signed, so trusting it is trusting the server. */
let ca: string;
let encryptedKey: string;

beforeAll(() => {
  certificates = mkdtempSync(join(tmpdir(), "reverb-uws-tls-"));
  ({ cert, key } = selfSignedCertificate(certificates));
  ca = readFileSync(cert, "utf8");
  encryptedKey = join(certificates, "k-encrypted.pem");
  const encrypted = Bun.spawnSync(["openssl", "rsa", "-in", key, "-aes256", "-passout", "pass:test-passphrase", "-out", encryptedKey], { stdout: "ignore", stderr: "pipe" });
  if (encrypted.exitCode !== 0) throw new Error(`openssl could not encrypt the test key: ${encrypted.stderr.toString()}`);
});

const dirs: string[] = [];
const running: CliProcess[] = [];
let server: TestServer | undefined;

afterEach(async () => {
  for (const run of running.splice(0)) run.child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await server?.stop();
  server = undefined;
});

afterAll(() => rmSync(certificates, { recursive: true, force: true }));

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "reverb-uws-tls-home-"));
  dirs.push(dir);
  return dir;
}

/** A home folder where Valet secured `host` with the test certificate. */
function valetHome(host: string): string {
  const home = scratch();
  const folder = join(home, ".config", "valet", "Certificates");
  mkdirSync(folder, { recursive: true });
  copyFileSync(cert, join(folder, `${host}.crt`));
  copyFileSync(key, join(folder, `${host}.key`));
  return home;
}

/** `fetch` that trusts the test certificate and nothing else self-signed. */
const secureFetch = (url: string) => fetch(url, { tls: { ca } });

describe("TLS served directly", () => {
  test("pusher-js with forceTLS gets an event the HTTP API took over https", async () => {
    server = await startTestServer({ server: { tls: { cert, key } } });
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
    expect(await (await secureFetch(`${server.url}/up`)).json()).toEqual({ health: "OK" });
    const path = `/apps/${APP.app_id}/channels`;
    const channels = await secureFetch(`${server.url}${path}?${signedQuery("GET", path, "", APP)}`);
    expect(channels.status).toBe(200);
    expect(await channels.json()).toEqual({ channels: {} });
    expect(fetch(`http://127.0.0.1:${server.port}/up`)).rejects.toThrow();
    const { status, stdout, stderr } = await runTlsPusherClient(server.port, cert, APP);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(JSON.parse(stdout)).toEqual({ over: "wss" });
  });

  test("REVERB_TLS_CERT and REVERB_TLS_KEY: `start` says secure and serves https", async () => {
    const cwd = scratch();
    const run = runCli(["start", "--host", "127.0.0.1", "--port", "0"], cwd, { ...CREDENTIALS, HOME: cwd, REVERB_TLS_CERT: cert, REVERB_TLS_KEY: key });
    running.push(run);
    const { port, secure } = await bannerOf(run);
    expect(secure).toBe(true);
    expect(run.output.text).toContain(`Starting secure server on 127.0.0.1:${port}`);
    expect(run.output.text).toContain(`App ${APP.app_id}: wss://127.0.0.1:${port}/app/${APP.key}`);
    expect((await secureFetch(`https://127.0.0.1:${port}/up`)).status).toBe(200);
  });

  test("an encrypted key opens with its passphrase; a wrong one stops `start` naming the files", async () => {
    server = await startTestServer({ server: { tls: { cert, key: encryptedKey, passphrase: "test-passphrase" } } });
    expect((await secureFetch(`${server.url}/up`)).status).toBe(200);

    const cwd = scratch();
    const env = { ...CREDENTIALS, HOME: cwd, REVERB_TLS_CERT: cert, REVERB_TLS_KEY: encryptedKey, REVERB_TLS_PASSPHRASE: "wrong" };
    const result = await runCliToEnd(["start", "--host", "127.0.0.1", "--port", "0"], cwd, env);
    expect(result.status).toBe(1);
    expect(result.text).toContain(`(TLS certificate ${cert}, key ${encryptedKey})`);
  });

  test("an unreadable or missing file is reported under the setting that names it", async () => {
    const cwd = scratch();
    const load = (env: Record<string, string>, configPath?: string) => loadConfig({ cwd, env: { ...CREDENTIALS, ...env }, configPath });
    expect(await load({ REVERB_TLS_CERT: join(cwd, "missing.pem"), REVERB_TLS_KEY: key })).toEqual({
      ok: false,
      errors: [`REVERB_TLS_CERT: cannot be read (ENOENT) (got "${join(cwd, "missing.pem")}")`],
    });
    expect(await load({ REVERB_TLS_CERT: cert })).toEqual({ ok: false, errors: ["REVERB_TLS_KEY: is required"] });
    writeFileSync(join(cwd, "reverb.json"), JSON.stringify({ server: { tls: { cert, key, ca: cwd } } }));
    expect(await load({}, "reverb.json")).toEqual({ ok: false, errors: [`reverb.json: server.tls.ca: cannot be read (EISDIR) (got "${cwd}")`] });
  });
});

describe("Herd and Valet certificates", () => {
  test("`start --hostname` serves the Valet certificate made for that host", async () => {
    const home = valetHome("reverb.test");
    const run = runCli(["start", "--host", "127.0.0.1", "--port", "0", "--hostname", "reverb.test"], home, { ...CREDENTIALS, HOME: home });
    running.push(run);
    const { port, secure } = await bannerOf(run);
    expect(secure).toBe(true);
    expect(run.output.text).toContain(`Starting secure server on 127.0.0.1:${port} (reverb.test)`);
    expect(run.output.text).toContain(join(home, ".config", "valet", "Certificates", "reverb.test.crt"));
    expect((await secureFetch(`https://127.0.0.1:${port}/up`)).status).toBe(200);
  });

  test("a .test --hostname without a certificate exits 1 naming every path tried", async () => {
    const home = scratch();
    const result = await runCliToEnd(["start", "--host", "127.0.0.1", "--port", "0", "--hostname", "missing.test"], home, { ...CREDENTIALS, HOME: home });
    expect(result.status).toBe(1);
    const tried = certificateDirectories(home, process.platform).flatMap((folder) => [join(folder, "missing.test.crt"), join(folder, "missing.test.key")]);
    expect(tried).toContain(join(home, ".config", "valet", "Certificates", "missing.test.crt"));
    expect(result.text).toContain("Invalid configuration: --hostname missing.test: no Herd or Valet certificate for it");
    for (const path of tried) expect(result.text).toContain(path);
  });

  test("when a missing certificate is an error, and when it means plain HTTP", () => {
    const directories = [join(valetHome("found.test"), ".config", "valet", "Certificates")];
    const discover = (input: Partial<DiscoveryInput>) =>
      discoverTls({ hostname: null, hostnameOrigin: "--hostname", hostnameFromFlag: true, mode: undefined, directories, ...input });
    const found = { ok: true as const, tls: { cert: join(directories[0]!, "found.test.crt"), key: join(directories[0]!, "found.test.key") } };

    expect(discover({ hostname: "found.test" })).toEqual(found);
    // Reverb's rule: any hostname with a certificate, from the flag or from REVERB_HOST.
    expect(discover({ hostname: "found.test", hostnameFromFlag: false })).toEqual(found);
    expect(discover({ hostname: "found.test", mode: "off" })).toEqual({ ok: true, tls: null });
    expect(discover({})).toEqual({ ok: true, tls: null });
    expect(discover({ hostname: "ws.example.com" })).toEqual({ ok: true, tls: null });
    // REVERB_HOST names the host clients use, maybe a proxy's: it asks for no certificate.
    expect(discover({ hostname: "other.test", hostnameFromFlag: false })).toEqual({ ok: true, tls: null });
    expect(discover({ hostname: "other.test" })).toMatchObject({ ok: false });
    expect(discover({ hostname: "ws.example.com", mode: "auto", hostnameOrigin: "REVERB_HOST", hostnameFromFlag: false })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^REVERB_HOST ws.example.com: no Herd or Valet certificate/),
    });
    expect(discover({ mode: "auto" })).toMatchObject({ ok: false, error: expect.stringContaining("needs a hostname") });
  });
});
