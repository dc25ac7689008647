#!/bin/sh
":" //; case "${npm_config_user_agent:-}" in bun/*) [ -x "${npm_execpath:-}" ] && exec "$npm_execpath" "$0" "$@" ;; esac; exec node "$0" "$@"
// The line above is for sh and a string plus a comment for JavaScript: run by `bunx` or `bun run`
// (which say so in npm_config_user_agent and name their binary in npm_execpath) this file runs
// under that Bun, in one process; anywhere else under Node.
//
// The server is TypeScript for the Bun runtime. Under Bun the CLI runs in this process. Under Node
// (a global install, `npx`, a systemd or supervisor line) it runs in the Bun this package depends
// on, found through module resolution so no `bun` on PATH is needed; signals go to it and its exit
// status comes back.
if (process.versions.bun) {
  await import("../src/cli.ts");
} else {
  const { runUnderBun } = await import("./run-under-bun.js");
  runUnderBun(new URL("../src/cli.ts", import.meta.url), process.argv.slice(2));
}
