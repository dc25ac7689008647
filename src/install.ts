import { defineCommand } from "citty";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDotEnv } from "./config/env.ts";
import { generateAppCredentials } from "./config/load.ts";

/** The laravel-echo setup that reads the VITE_ variables; the README shows the same. */
export const ECHO_SNIPPET = `import Echo from 'laravel-echo';
import Pusher from 'pusher-js';
window.Pusher = Pusher;

window.Echo = new Echo({
    broadcaster: 'reverb',
    key: import.meta.env.VITE_REVERB_APP_KEY,
    wsHost: import.meta.env.VITE_REVERB_HOST,
    wsPort: import.meta.env.VITE_REVERB_PORT ?? 80,
    wssPort: import.meta.env.VITE_REVERB_PORT ?? 443,
    forceTLS: (import.meta.env.VITE_REVERB_SCHEME ?? 'https') === 'https',
    enabledTransports: ['ws', 'wss'],
});`;

type Variables = ReadonlyArray<readonly [name: string, value: string]>;

/**
 * What `php artisan reverb:install` writes, in two groups: the server's settings, and the copies
 * Vite exposes to the front end (Vite expands `${...}` itself; the server never reads them).
 */
function reverbVariables(): Variables[] {
  const { app_id, key, secret } = generateAppCredentials();
  return [
    [
      ["REVERB_APP_ID", app_id],
      ["REVERB_APP_KEY", key],
      ["REVERB_APP_SECRET", secret],
      ["REVERB_HOST", '"localhost"'],
      ["REVERB_PORT", "8080"],
      ["REVERB_SCHEME", "http"],
    ],
    [
      ["VITE_REVERB_APP_KEY", '"${REVERB_APP_KEY}"'],
      ["VITE_REVERB_HOST", '"${REVERB_HOST}"'],
      ["VITE_REVERB_PORT", '"${REVERB_PORT}"'],
      ["VITE_REVERB_SCHEME", '"${REVERB_SCHEME}"'],
    ],
  ];
}

export interface DotEnvUpdate {
  text: string;
  written: string[];
  kept: string[];
}

/**
 * Sets each variable in a .env text. One that already has a value is kept unless `force`; one
 * that is present but empty is filled where it stands; missing ones are appended, a blank line
 * before each group. Every other line stays as it was.
 */
export function updateDotEnv(source: string, groups: Variables[], force: boolean): DotEnvUpdate {
  const eol = source.includes("\r\n") ? "\r\n" : "\n";
  const lines = source === "" ? [] : source.replace(/\r?\n$/, "").split(/\r?\n/);
  const current = parseDotEnv(source);
  const written: string[] = [];
  const kept: string[] = [];
  for (const group of groups) {
    const appended: string[] = [];
    for (const [name, value] of group) {
      if (current[name] && !force) {
        kept.push(name);
        continue;
      }
      written.push(name);
      // The last definition is the one that counts, for us as for Laravel.
      const at = lines.findLastIndex((line) => new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`).test(line));
      if (at >= 0) lines[at] = `${name}=${value}`;
      else appended.push(`${name}=${value}`);
    }
    if (appended.length > 0 && lines.length > 0 && lines.at(-1)!.trim() !== "") lines.push("");
    lines.push(...appended);
  }
  return { text: lines.join(eol) + eol, written, kept };
}

export const install = defineCommand({
  meta: { name: "install", description: "Write REVERB_* app credentials and settings into ./.env" },
  args: {
    force: { type: "boolean", description: "Replace values the .env already has (new credentials)" },
  },
  run({ args }) {
    const path = resolve(process.cwd(), ".env");
    const source = existsSync(path) ? readFileSync(path, "utf8") : "";
    const update = updateDotEnv(source, reverbVariables(), Boolean(args.force));
    if (update.written.length > 0) writeFileSync(path, update.text);

    const values = parseDotEnv(update.text);
    const shown = (name: string) => (name === "REVERB_APP_SECRET" ? name : `${name}=${values[name]}`);
    const out: string[] = [`${path}:`];
    for (const name of update.written) out.push(`  wrote ${shown(name)}`);
    for (const name of update.kept) out.push(`  kept  ${shown(name)}`);
    if (update.kept.length > 0) out.push("Values already set were kept; `reverb-uws install --force` replaces them.");
    out.push(
      "",
      "Start the server here with `reverb-uws start`. In a Laravel app, also set BROADCAST_CONNECTION=reverb.",
      "Point laravel-echo at it (resources/js/echo.js):",
      "",
      ECHO_SNIPPET,
      "",
    );
    process.stdout.write(out.join("\n"));
  },
});
