import type { FleetNode } from "./fleet.ts";
import { RawClient } from "./raw-client.ts";

/** What a test started, undone in reverse order after it whatever it did. */
export class Cleanups {
  private readonly steps: Array<() => unknown> = [];

  push(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }

  /** A raw client, closed after the test. */
  async connect(url: string): Promise<RawClient> {
    const client = await RawClient.connect(url);
    this.push(() => client.close());
    return client;
  }

  /** A raw client on `node` that joined a presence channel as `user`. */
  async presence(node: FleetNode, channel: string, user: number): Promise<RawClient> {
    const client = await this.connect(node.wsUrl());
    await client.join(channel, { user_id: user });
    return client;
  }
}
