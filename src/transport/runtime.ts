import type { Serve } from "./transport.ts";

/**
 * The transport of the runtime this process runs on: Bun.serve under Bun, uWebSockets.js under
 * Node. Imported only under Node, so the Bun path never needs the uWebSockets.js package.
 */
export async function runtimeTransport(): Promise<Serve> {
  if (process.versions.bun) return (await import("./bun.ts")).serveWithBun;
  return (await import("./uws.ts")).serveWithUws;
}
