import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { RawClient, quiet } from "./helpers/raw-client.ts";
import { APP, startTestServer, type TestServer } from "./helpers/server.ts";
import { signedFetch, signedQuery, type SignOptions } from "./helpers/signing.ts";

/** Every refusal of the HTTP API, built by hand, and proof that none of them reaches a client. */

const KEYS: SignOptions = { key: APP.key, secret: APP.secret };
const EVENTS = `/apps/${APP.app_id}/events`;
const BATCH = `/apps/${APP.app_id}/batch_events`;
const GOOD_EVENT = { name: "should-not-arrive", channel: "test-channel", data: "{}" };
const now = () => Math.floor(Date.now() / 1000);

interface Failure {
  what: string;
  status: number;
  /** The parsed JSON body the server must answer with. */
  body: unknown;
  /** The `Allow` header of a 405. */
  allow?: string;
  send(base: string): Promise<Response>;
}

/** POSTs `text` as the body with a query signed for `signedBody` (a tampered request when they differ). */
function postSignedFor(base: string, path: string, signedBody: string, text: string, options: SignOptions = KEYS): Promise<Response> {
  return fetch(`${base}${path}?${signedQuery("POST", path, signedBody, options)}`, { method: "POST", body: text });
}

const unauthorized = { error: "Authentication signature invalid." };

const FAILURES: Failure[] = [
  {
    what: "signed with the wrong secret",
    status: 401,
    body: unauthorized,
    send: (base) => signedFetch(base, "POST", EVENTS, GOOD_EVENT, { ...KEYS, secret: "not-the-secret" }),
  },
  {
    what: "no query string at all",
    status: 401,
    body: unauthorized,
    send: (base) => fetch(`${base}${EVENTS}`, { method: "POST", body: JSON.stringify(GOOD_EVENT) }),
  },
  {
    what: "auth parameters without auth_signature",
    status: 401,
    body: unauthorized,
    send: (base) => {
      const query = new URLSearchParams(signedQuery("POST", EVENTS, JSON.stringify(GOOD_EVENT), KEYS));
      query.delete("auth_signature");
      return fetch(`${base}${EVENTS}?${query}`, { method: "POST", body: JSON.stringify(GOOD_EVENT) });
    },
  },
  {
    what: "auth_timestamp 601 s in the past (a replay)",
    status: 401,
    body: unauthorized,
    send: (base) => signedFetch(base, "POST", EVENTS, GOOD_EVENT, { ...KEYS, timestamp: now() - 601 }),
  },
  {
    what: "auth_timestamp 601 s in the future",
    status: 401,
    body: unauthorized,
    send: (base) => signedFetch(base, "POST", EVENTS, GOOD_EVENT, { ...KEYS, timestamp: now() + 601 }),
  },
  {
    what: "auth_key that is not the app key (signed with the right secret)",
    status: 401,
    body: unauthorized,
    send: (base) => signedFetch(base, "POST", EVENTS, GOOD_EVENT, { ...KEYS, key: "some-other-key" }),
  },
  {
    what: "a body other than the signed one (body_md5 mismatch)",
    status: 401,
    body: unauthorized,
    send: (base) => postSignedFor(base, EVENTS, JSON.stringify({ ...GOOD_EVENT, data: '"original"' }), JSON.stringify(GOOD_EVENT)),
  },
  {
    what: "a body_md5 parameter that is not the body's MD5",
    status: 401,
    body: unauthorized,
    send: (base) => {
      const query = new URLSearchParams(signedQuery("POST", EVENTS, JSON.stringify(GOOD_EVENT), KEYS));
      query.set("body_md5", "0".repeat(32));
      return fetch(`${base}${EVENTS}?${query}`, { method: "POST", body: JSON.stringify(GOOD_EVENT) });
    },
  },
  {
    what: "a signed GET with a tampered query parameter",
    status: 401,
    body: unauthorized,
    send: (base) => {
      const path = `/apps/${APP.app_id}/channels`;
      const query = new URLSearchParams(signedQuery("GET", path, "", { ...KEYS, params: { info: "user_count" } }));
      query.set("info", "subscription_count");
      return fetch(`${base}${path}?${query}`);
    },
  },
  {
    what: "an unknown app id",
    status: 404,
    body: { error: "No matching application for ID [999999]." },
    send: (base) => signedFetch(base, "POST", "/apps/999999/events", GOOD_EVENT, KEYS),
  },
  {
    what: "an unknown route under /apps",
    status: 404,
    body: { error: "Not found." },
    send: (base) => signedFetch(base, "POST", `/apps/${APP.app_id}/evnts`, GOOD_EVENT, KEYS),
  },
  {
    what: "terminate_connections under /channels (not a route)",
    status: 404,
    body: { error: "Not found." },
    send: (base) => signedFetch(base, "POST", `/apps/${APP.app_id}/channels/users/not-a-user/terminate_connections`, {}, KEYS),
  },
  {
    what: "GET on the POST-only /events",
    status: 405,
    body: { error: "Method not allowed." },
    allow: "POST",
    send: (base) => signedFetch(base, "GET", EVENTS, undefined, KEYS),
  },
  {
    what: "POST on the GET-only /channels",
    status: 405,
    body: { error: "Method not allowed." },
    allow: "GET",
    send: (base) => signedFetch(base, "POST", `/apps/${APP.app_id}/channels`, GOOD_EVENT, KEYS),
  },
  {
    what: "POST /up",
    status: 405,
    body: { error: "Method not allowed." },
    allow: "GET",
    send: (base) => fetch(`${base}/up`, { method: "POST" }),
  },
  {
    what: "a 10,100-character event with the default max_request_size of 10,000",
    status: 413,
    body: { error: "Payload too large." },
    send: (base) => signedFetch(base, "POST", EVENTS, { ...GOOD_EVENT, data: "x".repeat(10_100) }, KEYS),
  },
  {
    what: "a body that is not JSON",
    status: 400,
    body: { error: "Request body is not valid JSON." },
    send: (base) => signedFetch(base, "POST", EVENTS, '{"name":"should-not-arrive","channel":"test-channel",', KEYS),
  },
  {
    what: "an empty body on /batch_events",
    status: 400,
    body: { error: "Request body is not valid JSON." },
    send: (base) => signedFetch(base, "POST", BATCH, "", KEYS),
  },
  {
    what: "missing data with channel",
    status: 422,
    body: { data: ["The data field is required."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { name: "should-not-arrive", channel: "test-channel" }, KEYS),
  },
  {
    what: "missing data with channels",
    status: 422,
    body: { data: ["The data field is required."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { name: "should-not-arrive", channels: ["test-channel"] }, KEYS),
  },
  {
    what: "missing name",
    status: 422,
    body: { name: ["The name field is required."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { channel: "test-channel", data: "{}" }, KEYS),
  },
  {
    what: "neither channels nor channel (both are named, as Laravel does)",
    status: 422,
    body: {
      channels: ["The channels field is required when channel is not present."],
      channel: ["The channel field is required when channels is not present."],
    },
    send: (base) => signedFetch(base, "POST", EVENTS, { name: "should-not-arrive", data: "{}" }, KEYS),
  },
  {
    what: "an integer socket_id",
    status: 422,
    body: { socket_id: ["The socket id field must be a string."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { ...GOOD_EVENT, socket_id: 1234.5678 }, KEYS),
  },
  {
    what: "an integer info",
    status: 422,
    body: { info: ["The info field must be a string."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { ...GOOD_EVENT, info: 1 }, KEYS),
  },
  {
    what: "object data (the SDKs send a JSON string)",
    status: 422,
    body: { data: ["The data field must be a string."] },
    send: (base) => signedFetch(base, "POST", EVENTS, { ...GOOD_EVENT, data: { some: "data" } }, KEYS),
  },
  {
    what: "a batch item without channel, after a valid item",
    status: 422,
    body: { "batch.1.channel": ["The batch.1.channel field is required."] },
    send: (base) => signedFetch(base, "POST", BATCH, { batch: [GOOD_EVENT, { name: "should-not-arrive", data: "{}" }] }, KEYS),
  },
  {
    what: "a batch body without batch",
    status: 422,
    body: { batch: ["The batch field is required."] },
    send: (base) => signedFetch(base, "POST", BATCH, { events: [GOOD_EVENT] }, KEYS),
  },
];

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await server.stop();
});

describe("refusals", () => {
  for (const failure of FAILURES) {
    test(`${failure.status} for ${failure.what}`, async () => {
      const response = await failure.send(server.url);
      const text = await response.text();
      expect(response.status, text).toBe(failure.status);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(JSON.parse(text)).toEqual(failure.body);
      if (failure.allow) expect(response.headers.get("allow")).toBe(failure.allow);
    });
  }

  test("every signed route answers 401 to an unsigned request", async () => {
    const routes: Array<[string, string]> = [
      ["POST", EVENTS],
      ["POST", BATCH],
      ["GET", `/apps/${APP.app_id}/channels`],
      ["GET", `/apps/${APP.app_id}/channels/test-channel`],
      ["GET", `/apps/${APP.app_id}/channels/presence-room/users`],
      ["GET", `/apps/${APP.app_id}/connections`],
      ["POST", `/apps/${APP.app_id}/users/1/terminate_connections`],
    ];
    for (const [method, path] of routes) {
      const response = await fetch(`${server.url}${path}`, { method, body: method === "POST" ? "{}" : undefined });
      expect([path, response.status]).toEqual([path, 401]);
    }
  });

  test("a timestamp inside the 600 s window is accepted, so the window is not zero", async () => {
    const response = await signedFetch(server.url, "POST", EVENTS, GOOD_EVENT, { ...KEYS, timestamp: now() - 590 });
    expect(response.status).toBe(200);
  });

  test("a body past the transport's own cap (twice max_request_size) is 413 too", async () => {
    const response = await signedFetch(server.url, "POST", EVENTS, { ...GOOD_EVENT, data: "x".repeat(100_000) }, KEYS);
    expect(response.status).toBe(413);
  });

  test("a streamed body without Content-Length over max_request_size is 413", async () => {
    const text = JSON.stringify({ ...GOOD_EVENT, data: "x".repeat(12_000) });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
    const response = await fetch(`${server.url}${EVENTS}?${signedQuery("POST", EVENTS, text, KEYS)}`, { method: "POST", body });
    expect(response.status).toBe(413);
  });

  test("none of the refusals delivers anything or disturbs a subscribed client", async () => {
    const client = await RawClient.connect(server.wsUrl());
    try {
      await client.subscribe("test-channel");
      const before = client.frames.length;
      for (const failure of FAILURES) {
        const response = await failure.send(server.url);
        await response.arrayBuffer();
        expect([failure.what, response.status]).toEqual([failure.what, failure.status]);
      }
      const good = await signedFetch(server.url, "POST", EVENTS, { name: "after-refusals", channel: "test-channel", data: "ok" }, KEYS);
      expect(good.status).toBe(200);
      await client.next("after-refusals", before);
      await quiet(100);
      expect(client.frames.slice(before)).toEqual([{ event: "after-refusals", data: "ok", channel: "test-channel" }]);
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      client.close();
    }
  });
});

describe("max_request_size", () => {
  test("with max_request_size 200,000 a 150,000-character event is accepted and delivered", async () => {
    const large = await startTestServer({ server: { max_request_size: 200_000 } });
    const client = await RawClient.connect(large.wsUrl());
    try {
      await client.subscribe("test-channel");
      const data = "y".repeat(150_000);
      const response = await signedFetch(large.url, "POST", EVENTS, { name: "big", channel: "test-channel", data }, KEYS);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      expect((await client.next("big")).data).toBe(data);

      const over = await signedFetch(large.url, "POST", EVENTS, { name: "big", channel: "test-channel", data: "y".repeat(200_000) }, KEYS);
      expect(over.status).toBe(413);
    } finally {
      client.close();
      await large.stop();
    }
  });

  test("with max_request_size 20,000 the 10,100-character event that the default refuses is accepted", async () => {
    const roomy = await startTestServer({ server: { max_request_size: 20_000 } });
    try {
      const response = await signedFetch(roomy.url, "POST", EVENTS, { ...GOOD_EVENT, data: "x".repeat(10_100) }, KEYS);
      expect(response.status).toBe(200);
    } finally {
      await roomy.stop();
    }
  });
});
