/** Exceptions that escaped a request or socket handler, since start: each one is a bug of ours. */
export class HandlerErrors {
  websocket = 0;
  http = 0;
}
