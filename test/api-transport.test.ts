import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { signChannel } from "../src/protocol/signatures.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch, signedQuery } from "./helpers/signing.ts";
import { within } from "./helpers/waits.ts";

/** How the API is reached: route prefix, keep-alive, and plain curl as the README shows it. */

const KEYS = { key: APP.key, secret: APP.secret };
const EVENTS = `/apps/${APP.app_id}/events`;

let server: TestServer | undefined;
let clients: RawClient[] = [];

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await server?.stop();
  server = undefined;
});

async function subscriber(url: string, channel: string): Promise<RawClient> {
  const client = await RawClient.connect(url);
  clients.push(client);
  expect((await client.subscribe(channel)).event).toBe("pusher_internal:subscription_succeeded");
  return client;
}

describe("path prefix", () => {
  const origin = () => `http://127.0.0.1:${server!.port}`;

  test("with path ws, /ws/apps/... signed over /apps/... (pusher-http-php) is accepted and delivered", async () => {
    server = await startTestServer({ server: { path: "ws" } });
    const client = await subscriber(server.wsUrl(), "test-channel");

    const response = await signedFetch(origin(), "POST", `/ws${EVENTS}`, { name: "php-style", channel: "test-channel", data: "1" }, {
      ...KEYS,
      signedPath: EVENTS,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
    expect(await client.next("php-style")).toEqual({ event: "php-style", data: "1", channel: "test-channel" });
  });

  test("with path ws, /ws/apps/... signed over the full requested path is accepted too", async () => {
    server = await startTestServer({ server: { path: "ws" } });
    const client = await subscriber(server.wsUrl(), "test-channel");

    const response = await signedFetch(origin(), "POST", `/ws${EVENTS}`, { name: "full-path", channel: "test-channel", data: "2" }, KEYS);
    expect(response.status).toBe(200);
    await client.next("full-path");

    const channels = await signedFetch(origin(), "GET", `/ws/apps/${APP.app_id}/channels`, undefined, KEYS);
    expect(await channels.json()).toEqual({ channels: { "test-channel": {} } });
  });

  test("with path ws, a signature over some other path is refused", async () => {
    server = await startTestServer({ server: { path: "ws" } });
    const response = await signedFetch(origin(), "POST", `/ws${EVENTS}`, { name: "e", channel: "c", data: "3" }, {
      ...KEYS,
      signedPath: `/other${EVENTS}`,
    });
    expect(response.status).toBe(401);
  });

  test("with path ws, routes without the prefix are 404", async () => {
    server = await startTestServer({ server: { path: "ws" } });
    const unprefixed = await signedFetch(origin(), "POST", EVENTS, { name: "e", channel: "c", data: "4" }, KEYS);
    expect(unprefixed.status).toBe(404);
    expect((await fetch(`${origin()}/up`)).status).toBe(404);
    expect(await (await fetch(`${origin()}/ws/up`)).json()).toEqual({ health: "OK" });
  });
});

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends one HTTP/1.1 request on an open socket and reads exactly one response from it. */
function exchange(socket: Socket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      const [statusLine, ...lines] = buffer.subarray(0, end).toString().split("\r\n");
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
      const length = Number(headers.get("content-length"));
      if (buffer.length < end + 4 + length) return;
      socket.off("data", onData);
      socket.off("error", reject);
      resolve({ status: Number(statusLine!.split(" ")[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString() });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(request);
  });
}

function signedRequest(method: string, path: string, body: string): string {
  const head = `${method} ${path}?${signedQuery(method, path, body, KEYS)} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  return body === "" ? `${head}\r\n` : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe("keep-alive", () => {
  test("several requests, signed and not, are answered one after another on one TCP connection", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "test-channel");
    const socket = connect(server.port, "127.0.0.1");
    let closedEarly = false;
    socket.on("close", () => (closedEarly = true));
    try {
      await within(new Promise((resolve) => socket.once("connect", resolve)), "TCP connect");
      for (let index = 0; index < 3; index++) {
        const body = JSON.stringify({ name: "kept-alive", channel: "test-channel", data: String(index) });
        const answer = await within(exchange(socket, signedRequest("POST", EVENTS, body)), `response ${index}`);
        expect([answer.status, answer.body]).toEqual([200, "{}"]);
        expect(answer.headers.get("connection")).not.toBe("close");
      }
      const channels = await within(exchange(socket, signedRequest("GET", `/apps/${APP.app_id}/channels`, "")), "channels response");
      expect(JSON.parse(channels.body)).toEqual({ channels: { "test-channel": {} } });
      const health = await within(exchange(socket, "GET /up HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), "health response");
      expect(JSON.parse(health.body)).toEqual({ health: "OK" });
      expect(closedEarly).toBe(false);

      await client.waitFor(() => client.count("kept-alive") === 3, "three events");
      expect(client.frames.filter((frame) => frame.event === "kept-alive").map((frame) => frame.data)).toEqual(["0", "1", "2"]);
    } finally {
      socket.destroy();
    }
  });

  test("a refused request does not spoil the connection for the next one", async () => {
    server = await startTestServer();
    const socket = connect(server.port, "127.0.0.1");
    try {
      await within(new Promise((resolve) => socket.once("connect", resolve)), "TCP connect");
      const body = JSON.stringify({ name: "e", channel: "c" });
      const refused = await within(exchange(socket, signedRequest("POST", EVENTS, body)), "422 response");
      expect(refused.status).toBe(422);
      const accepted = await within(exchange(socket, signedRequest("GET", `/apps/${APP.app_id}/connections`, "")), "200 response");
      expect([accepted.status, JSON.parse(accepted.body)]).toEqual([200, { connections: 0 }]);
    } finally {
      socket.destroy();
    }
  });
});

describe("request line and Host", () => {
  test("a Host that is no host[:port] gets 500 as a handler failure, and the server keeps answering", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "test-channel");
    const socket = connect(server.port, "127.0.0.1");
    try {
      await within(new Promise((resolve) => socket.once("connect", resolve)), "TCP connect");
      for (const host of ["", "1.2.3.999", "example.com:99999", "bad/host"]) {
        const body = JSON.stringify({ name: "odd-host", channel: "test-channel", data: host });
        const request = signedRequest("POST", EVENTS, body).replace("Host: 127.0.0.1", `Host: ${host}`);
        const own = connect(server.port, "127.0.0.1");
        try {
          const answer = await within(exchange(own, request), host);
          expect([host, answer.status, answer.body]).toEqual([host, 500, JSON.stringify({ error: "Internal server error." })]);
        } finally {
          own.destroy();
        }
      }
      const body = JSON.stringify({ name: "good-host", channel: "test-channel", data: "1" });
      expect((await within(exchange(socket, signedRequest("POST", EVENTS, body)), "good host")).status).toBe(200);
      await client.waitFor(() => client.count("good-host") === 1, "the event");
      expect(client.count("odd-host")).toBe(0);
    } finally {
      socket.destroy();
    }
  });

  test("dot segments are resolved before the route and the signature are", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "test-channel");
    const body = JSON.stringify({ name: "dotted", channel: "test-channel", data: "1" });
    const query = signedQuery("POST", EVENTS, body, KEYS);
    const socket = connect(server.port, "127.0.0.1");
    try {
      await within(new Promise((resolve) => socket.once("connect", resolve)), "TCP connect");
      const request = `POST /apps/${APP.app_id}/x/../events?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const answer = await within(exchange(socket, request), "dotted response");
      expect([answer.status, answer.body]).toEqual([200, "{}"]);
      await client.waitFor(() => client.count("dotted") === 1, "the event");
    } finally {
      socket.destroy();
    }
  });
});

/** Runs a command with a deadline; returns its exit code and stdout. */
async function run(command: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(command, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  try {
    const [code, stdout, stderr] = await within(
      Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]),
      command[0]!,
      10_000,
    );
    return { code, stdout, stderr };
  } finally {
    child.kill();
  }
}

const hasCurl = Bun.which("curl") !== null;

describe("curl", () => {
  test.skipIf(!hasCurl)("a curl POST with a hand-signed URL triggers an event", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "my-channel");
    const body = JSON.stringify({ name: "my-event", channel: "my-channel", data: JSON.stringify({ message: "hello" }) });
    const url = `${server.url}${EVENTS}?${signedQuery("POST", EVENTS, body, KEYS)}`;

    const result = await run(["curl", "-sS", "--max-time", "5", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body, "-w", "\n%{http_code}", url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("{}\n200");
    expect(await client.next("my-event")).toEqual({ event: "my-event", data: '{"message":"hello"}', channel: "my-channel" });
  });

  const hasShellTools = hasCurl && ["sh", "openssl", "md5sum"].every((tool) => Bun.which(tool) !== null);

  test.skipIf(!hasShellTools)("the README's shell recipe (md5sum, openssl, curl) triggers an event", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "my-channel");
    const script = [
      `BODY='{"name":"my-event","channel":"my-channel","data":"{\\"message\\":\\"hello\\"}"}'`,
      `TS=$(date +%s)`,
      `MD5=$(printf '%s' "$BODY" | md5sum | cut -d' ' -f1)`,
      `QUERY="auth_key=$APP_KEY&auth_timestamp=$TS&auth_version=1.0&body_md5=$MD5"`,
      `SIG=$(printf 'POST\\n/apps/%s/events\\n%s' "$APP_ID" "$QUERY" | openssl dgst -sha256 -hmac "$APP_SECRET" | sed 's/^.*= //')`,
      `curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' -d "$BODY" "$HOST/apps/$APP_ID/events?$QUERY&auth_signature=$SIG"`,
    ].join("\n");

    const result = await run(["sh", "-c", script], { APP_ID: APP.app_id, APP_KEY: APP.key, APP_SECRET: APP.secret, HOST: server.url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("{}");
    expect(await client.next("my-event")).toEqual({ event: "my-event", data: '{"message":"hello"}', channel: "my-channel" });
  });

  /** The README's per-route examples, verbatim: one signing function, then one call per route. */
  const README_ROUTES = String.raw`
pusher_api() { # METHOD PATH [QUERY] [BODY]; QUERY values must be URL-safe
  query="auth_key=$APP_KEY&auth_timestamp=$(date +%s)&auth_version=1.0"
  if [ -n "$4" ]; then query="$query&body_md5=$(printf '%s' "$4" | md5sum | cut -d' ' -f1)"; fi
  if [ -n "$3" ]; then query=$(printf '%s&%s' "$query" "$3" | tr '&' '\n' | LC_ALL=C sort | paste -sd'&' -); fi
  sig=$(printf '%s\n%s\n%s' "$1" "$2" "$query" | openssl dgst -sha256 -hmac "$APP_SECRET" | sed 's/^.*= //')
  if [ -n "$4" ]; then
    curl -sS -X "$1" -H 'Content-Type: application/json' -d "$4" "$HOST$2?$query&auth_signature=$sig"
  else
    curl -sS -X "$1" "$HOST$2?$query&auth_signature=$sig"
  fi
  echo
}
pusher_api POST /apps/$APP_ID/events '' '{"name":"my-event","channel":"my-channel","data":"{\"message\":\"hello\"}"}'
pusher_api POST /apps/$APP_ID/batch_events '' '{"batch":[{"name":"a","channel":"my-channel","data":"1"},{"name":"b","channel":"other-channel","data":"2"}]}'
pusher_api GET /apps/$APP_ID/channels 'filter_by_prefix=presence-&info=user_count'
pusher_api GET /apps/$APP_ID/channels/my-channel 'info=subscription_count'
pusher_api GET /apps/$APP_ID/channels/presence-room/users
pusher_api GET /apps/$APP_ID/connections
pusher_api POST /apps/$APP_ID/users/42/terminate_connections '' '{}'
curl -sS "$HOST/up"; echo
`;

  test.skipIf(!hasShellTools)("the README's per-route shell examples answer as documented", async () => {
    server = await startTestServer();
    const client = await subscriber(server.wsUrl(), "my-channel");
    const channelData = JSON.stringify({ user_id: 42 });
    const member = await RawClient.connect(server.wsUrl());
    clients.push(member);
    const auth = signChannel(APP.key, APP.secret, member.socketId, "presence-room", channelData);
    expect((await member.subscribe("presence-room", { auth, channel_data: channelData })).event).toBe("pusher_internal:subscription_succeeded");

    const result = await run(["sh", "-c", README_ROUTES], { APP_ID: APP.app_id, APP_KEY: APP.key, APP_SECRET: APP.secret, HOST: server.url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      {},
      { batch: {} },
      { channels: { "presence-room": { user_count: 1 } } },
      { occupied: true, subscription_count: 1 },
      { users: [{ id: 42 }] },
      { connections: 2 },
      {},
      { health: "OK" },
    ]);
    expect(await client.next("my-event")).toEqual({ event: "my-event", data: '{"message":"hello"}', channel: "my-channel" });
    expect(await client.next("a")).toEqual({ event: "a", channel: "my-channel", data: "1" });
    expect((await within(member.closed, "the terminated member to close")).code).toBe(1006);
  });
});
