import { Worker as NodeWorker } from "node:worker_threads";
import type { Applied, SubscriberCommand, SubscriberReport } from "./subscriber.ts";

/** The subscriber's thread as the socket loop sees it, whichever runtime made it. */
export interface SubscriberThread {
  post(message: SubscriberCommand | Applied): void;
  terminate(): void;
}

/**
 * A Web Worker under Bun, running the TypeScript entry; a `worker_threads` Worker under Node,
 * running the entry that `npm run build:node` bundles next to the server's (dist/node/).
 */
export function spawnSubscriberThread(onReport: (report: SubscriberReport) => void): SubscriberThread {
  if (process.versions.bun) {
    const worker = new Worker(new URL("./subscriber-worker.ts", import.meta.url).href);
    worker.onmessage = (event: MessageEvent<SubscriberReport>) => onReport(event.data);
    return { post: (message) => worker.postMessage(message), terminate: () => worker.terminate() };
  }
  const worker = new NodeWorker(new URL("./subscriber-worker.js", import.meta.url));
  worker.on("message", onReport);
  return { post: (message) => worker.postMessage(message), terminate: () => void worker.terminate() };
}
