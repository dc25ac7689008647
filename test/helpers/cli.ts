import { join } from "node:path";

/** `reverb-uws` as a real process, for the install and TLS tests. */
export const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");

export interface CliProcess {
  readonly child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** stdout and stderr so far, interleaved as they arrived. */
  readonly output: { text: string };
  /** Settles once both streams ended. */
  readonly drained: Promise<unknown>;
}

/**
 * Runs `reverb-uws <args>` in `cwd` with only PATH, HOME and `env`, so nothing from the developer's
 * shell leaks into the config; the runtime folder is `cwd`, out of reach of other tests' restarts.
 * `launcher` is a command that execs the server, such as `prlimit --nofile=300:300 --`.
 */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}, launcher: string[] = []): CliProcess {
  return runCommand([...launcher, process.execPath, CLI, ...args], cwd, env);
}

/** Any command that starts the CLI (a packed install's bin, npx, bunx), with runCli's environment. */
export function runCommand(command: string[], cwd: string, env: Record<string, string> = {}): CliProcess {
  const child = Bun.spawn(command, {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", REVERB_RUNTIME_DIR: cwd, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = { text: "" };
  const drained = Promise.all(
    [child.stdout, child.stderr].map(async (stream) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) output.text += decoder.decode(chunk, { stream: true });
    }),
  );
  return { child, output, drained };
}

/** Runs a command that ends by itself; its exit status and everything it printed. */
export async function runCliToEnd(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const run = runCli(args, cwd, env);
  const status = await run.child.exited;
  await run.drained;
  return { status, text: run.output.text };
}

/** Waits for `reverb-uws start`'s banner; the port it listens on and whether it said "secure". */
export async function bannerOf(run: CliProcess, ms = 10_000): Promise<{ port: number; secure: boolean }> {
  const banner = /Starting (secure )?server on [^:]+:(\d+)/;
  const deadline = Date.now() + ms;
  while (!banner.test(run.output.text)) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`server did not start:\n${run.output.text}`);
    await Bun.sleep(20);
  }
  // The banner is several lines, each its own write, and a pipe may hand them over in separate
  // chunks: wait for the first app's address, then for the output to settle, before a test reads it.
  while (!/App \S+: wss?:\/\/[^\n]*\n/.test(run.output.text.slice(run.output.text.search(banner)))) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`server printed no app address:\n${run.output.text}`);
    await Bun.sleep(20);
  }
  for (let seen = ""; seen !== run.output.text && Date.now() < deadline; ) {
    seen = run.output.text;
    await Bun.sleep(50);
  }
  const [, secure, port] = banner.exec(run.output.text)!;
  return { port: Number(port), secure: Boolean(secure) };
}
