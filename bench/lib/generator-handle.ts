import type { Subprocess } from "bun";
import { fileURLToPath } from "node:url";
import type { Children } from "./children.ts";
import type { MethodName, Methods, Reply, Request } from "./protocol.ts";

const GENERATOR = fileURLToPath(new URL("../generator/main.ts", import.meta.url));

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A load generator process as the runner sees it: typed calls with a deadline each. */
export class GeneratorHandle {
  readonly process: Subprocess;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    readonly name: string,
    children: Children,
  ) {
    this.process = children.track(
      Bun.spawn([process.execPath, GENERATOR], {
        ipc: (message) => this.onReply(message as Reply),
        stdin: "ignore",
        stdout: "inherit",
        stderr: "inherit",
      }),
    );
    void this.process.exited.then((code) => this.failAll(new Error(`generator ${name} exited (${code})`)));
  }

  call<M extends MethodName>(method: M, params: Methods[M]["params"], timeoutMs: number): Promise<Methods[M]["result"]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`generator ${this.name}: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: Request<M> = { id, method, params };
      this.process.send(request);
    });
  }

  private onReply(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new Error(`generator ${this.name}: ${reply.error}`));
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
