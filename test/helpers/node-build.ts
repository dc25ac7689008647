import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
let built = false;

/**
 * `dist/node/cli.js`, built from the sources on first use in this test run, so the Node server
 * under test is never an older build than the code beside it.
 */
export function nodeCli(): string {
  if (!built) {
    const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build-node.ts")], { stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`npm run build:node failed:\n${build.stderr.toString()}`);
    built = true;
  }
  return join(ROOT, "dist", "node", "cli.js");
}
