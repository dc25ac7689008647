/**
 * Builds what `npm run start:node` runs: the CLI and the Redis subscriber's thread bundled for Node
 * into dist/node/, with uWebSockets.js left to be loaded from node_modules (a native addon). The
 * dashboard page goes where monitoring.ts looks for it from the bundle (`../metrics/`).
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const result = await Bun.build({
  entrypoints: [join(root, "src/cli.ts"), join(root, "src/bus/subscriber-worker.ts")],
  outdir: join(dist, "node"),
  target: "node",
  naming: "[name].[ext]",
  external: ["uWebSockets.js"],
});
if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
mkdirSync(join(dist, "metrics"), { recursive: true });
copyFileSync(join(root, "src/metrics/dashboard.html"), join(dist, "metrics", "dashboard.html"));
