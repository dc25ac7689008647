/**
 * What the core needs from a transport. Bun's ServerWebSocket and server satisfy these as they
 * are; another transport adapts its own objects to them.
 */
export interface Socket {
  send(frame: string): unknown;
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): unknown;
  /** Delivers to every subscriber of `topic` except this socket. */
  publish(topic: string, frame: string): unknown;
  ping(): unknown;
  close(code?: number, reason?: string): unknown;
  /** Drops the TCP connection without a close frame. */
  terminate(): unknown;
  /** Bytes sent but not yet taken by the client's TCP connection. */
  getBufferedAmount(): number;
}

export interface Publisher {
  /** Delivers to every subscriber of `topic`. */
  publish(topic: string, frame: string): unknown;
}
