import { join } from "node:path";

/** A self-signed certificate for localhost and 127.0.0.1, made with openssl in `dir`. */
export function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, "c.pem");
  const key = join(dir, "k.pem");
  const made = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl could not make a test certificate: ${made.stderr.toString()}`);
  return { cert, key };
}

const TLS_CLIENT = join(import.meta.dir, "..", "fixtures", "tls-pusher-client.ts");

/**
 * Runs pusher-js with `forceTLS` and the `pusher` SDK against `port` (fixtures/tls-pusher-client.ts)
 * in a process of their own. They verify the certificate against NODE_EXTRA_CA_CERTS, which is
 * read when a process starts: hence the process, rather than turning verification off
 * (NODE_TLS_REJECT_UNAUTHORIZED=0) for every test file.
 */
export async function runTlsPusherClient(port: number, cert: string, app: { app_id: string; key: string; secret: string }): Promise<{ status: number; stdout: string; stderr: string }> {
  const client = Bun.spawn([process.execPath, TLS_CLIENT, String(port), app.app_id, app.key, app.secret], {
    env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: cert },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [status, stdout, stderr] = await Promise.all([client.exited, new Response(client.stdout).text(), new Response(client.stderr).text()]);
  return { status, stdout, stderr };
}
