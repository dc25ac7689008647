import { randomInt } from "node:crypto";

/** `<a>.<b>`, each 1..1e9: the shape pusher-http-php validates (`^\d+\.\d+$`). */
export function newSocketId(): string {
  return `${randomInt(1, 1_000_000_001)}.${randomInt(1, 1_000_000_001)}`;
}

const SOCKET_ID = /^\d+\.\d+$/;

export function isSocketId(value: string): boolean {
  return SOCKET_ID.test(value);
}
