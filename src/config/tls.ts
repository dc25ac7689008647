import { existsSync } from "node:fs";
import { join } from "node:path";

/** `--tls`: `auto` insists on a Herd/Valet certificate for the hostname, `off` never looks for one. */
export type TlsDiscovery = "auto" | "off";

export interface CertificatePair {
  cert: string;
  key: string;
}

/**
 * Where Laravel Herd and Valet keep the certificates of secured sites: the places Reverb looks,
 * plus `~/.valet`, where older Valet and Valet Linux keep them. Herd exists for macOS and Windows
 * only.
 */
export function certificateDirectories(home: string, platform: NodeJS.Platform): string[] {
  const herd: Partial<Record<NodeJS.Platform, string>> = {
    darwin: join(home, "Library", "Application Support", "Herd", "config", "valet", "Certificates"),
    win32: join(home, ".config", "herd", "config", "valet", "Certificates"),
  };
  return [...(herd[platform] ? [herd[platform]] : []), join(home, ".config", "valet", "Certificates"), join(home, ".valet", "Certificates")];
}

export interface DiscoveryInput {
  hostname: string | null;
  /** How the user named the hostname (`--hostname`, `REVERB_HOST`, a config key), for the error. */
  hostnameOrigin: string;
  hostnameFromFlag: boolean;
  mode: TlsDiscovery | undefined;
  directories: string[];
}

export type Discovery = { ok: true; tls: CertificatePair | null } | { ok: false; error: string };

/**
 * For a server with no certificate configured. Reverb's rule: with a hostname, serve the
 * Herd/Valet certificate of that site when there is one, plain HTTP otherwise. Plain HTTP is an
 * error instead when TLS was asked for, by `--tls auto` or by a `--hostname` ending in `.test`
 * (a Herd/Valet site, whose pages connect with wss:// and would fail with no hint why).
 * `REVERB_HOST` alone asks for nothing: Laravel's .env uses it for the host *clients* connect to,
 * often a proxy that terminates TLS in front of this server.
 */
export function discoverTls(input: DiscoveryInput): Discovery {
  const { hostname, mode } = input;
  if (mode === "off") return { ok: true, tls: null };
  if (!hostname) {
    return mode === "auto" ? { ok: false, error: "--tls auto: needs a hostname to look up (--hostname or REVERB_HOST)" } : { ok: true, tls: null };
  }
  const tried: string[] = [];
  for (const directory of input.directories) {
    const pair = { cert: join(directory, `${hostname}.crt`), key: join(directory, `${hostname}.key`) };
    if (existsSync(pair.cert) && existsSync(pair.key)) return { ok: true, tls: pair };
    tried.push(pair.cert, pair.key);
  }
  const required = mode === "auto" || (input.hostnameFromFlag && hostname.endsWith(".test"));
  if (!required) return { ok: true, tls: null };
  return {
    ok: false,
    error:
      `${input.hostnameOrigin} ${hostname}: no Herd or Valet certificate for it (tried ${tried.join(", ")}); ` +
      "set REVERB_TLS_CERT and REVERB_TLS_KEY, or pass --tls off to serve plain HTTP",
  };
}
