import { describe, expect, test } from "bun:test";
import { channelKind, type ChannelKind } from "../src/protocol/channels.ts";
import { ERROR_FRAMES } from "../src/protocol/errors.ts";
import { cacheMissFrame, connectionEstablishedFrame, memberRemovedFrame, presenceData, subscriptionSucceededFrame } from "../src/protocol/frames.ts";
import { parseClientMessage } from "../src/protocol/messages.ts";
import { compileOriginCheck } from "../src/protocol/origins.ts";

describe("channel kinds", () => {
  const cases: Array<[string, ChannelKind["name"], boolean, boolean]> = [
    ["foo", "public", false, false],
    ["private-foo", "private", true, false],
    ["presence-foo", "presence", true, false],
    ["cache-foo", "public", false, true],
    ["private-cache-foo", "private", true, true],
    ["presence-cache-foo", "presence", true, true],
    ["private-encrypted-foo", "private", true, false],
    ["private-encrypted-cache-foo", "private", true, true],
    ["#server-to-user-1", "public", false, false],
    ["", "public", false, false],
  ];
  for (const [name, kind, authenticated, cache] of cases) {
    test(`"${name}" is ${kind}${cache ? " cache" : ""}`, () => {
      const result = channelKind(name);
      expect({ kind: result.name, authenticated: result.authenticated, cache: result.cache }).toEqual({ kind, authenticated, cache });
    });
  }
});

describe("frames keep Reverb's exact shapes", () => {
  test("connection established", () => {
    expect(connectionEstablishedFrame("1.2", 30)).toBe(
      '{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"1.2\\",\\"activity_timeout\\":30}"}',
    );
  });
  test("subscription succeeded, with and without a channel", () => {
    expect(subscriptionSucceededFrame("test-channel")).toBe(
      '{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"test-channel"}',
    );
    expect(subscriptionSucceededFrame("")).toBe('{"event":"pusher_internal:subscription_succeeded","data":"{}"}');
  });
  test("presence data: hash is an object even when empty or keyed 0..n", () => {
    expect(presenceData([])).toBe('{"presence":{"count":0,"ids":[],"hash":{}}}');
    expect(JSON.parse(presenceData([{ id: 0, info: { n: "a" } }, { id: 1, info: undefined }]))).toEqual({
      presence: { count: 2, ids: [0, 1], hash: { "0": { n: "a" }, "1": null } },
    });
  });
  test("member removed keeps the user id type", () => {
    expect(memberRemovedFrame("presence-x", 3)).toBe('{"event":"pusher_internal:member_removed","data":"{\\"user_id\\":3}","channel":"presence-x"}');
  });
  test("cache miss and errors", () => {
    expect(cacheMissFrame("cache-x")).toBe('{"event":"pusher:cache_miss","channel":"cache-x"}');
    expect(ERROR_FRAMES.invalidMessage).toBe('{"event":"pusher:error","data":"{\\"code\\":4200,\\"message\\":\\"Invalid message format\\"}"}');
  });
});

describe("inbound frames", () => {
  test("subscribe with data as an object or as a JSON string", () => {
    const expected = { type: "subscribe", channel: "c", auth: null, channelData: null } as const;
    expect(parseClientMessage('{"event":"pusher:subscribe","data":{"channel":"c"}}')).toEqual(expected);
    expect(parseClientMessage(JSON.stringify({ event: "pusher:subscribe", data: JSON.stringify({ channel: "c" }) }))).toEqual(expected);
  });
  test("channel_data is kept verbatim", () => {
    const channelData = '{ "user_id" : 1 }';
    const parsed = parseClientMessage(JSON.stringify({ event: "pusher:subscribe", data: { channel: "presence-c", auth: "a", channel_data: channelData } }));
    expect(parsed).toMatchObject({ type: "subscribe", channelData });
  });
  const invalid: Array<[string, string]> = [
    ["not JSON", "Hi"],
    ["a JSON array", "[1,2]"],
    ["event not a string", '{"event":["pusher:ping"]}'],
    ["subscribe without channel", '{"event":"pusher:subscribe","data":{}}'],
    ["channel an array", '{"event":"pusher:subscribe","data":{"channel":["a"]}}'],
    ["auth an array", '{"event":"pusher:subscribe","data":{"channel":"a","auth":[]}}'],
    ["channel_data an object", '{"event":"pusher:subscribe","data":{"channel":"a","channel_data":{}}}'],
    ["channel_data not JSON", '{"event":"pusher:subscribe","data":{"channel":"a","channel_data":"Hello"}}'],
    ["unsubscribe without channel", '{"event":"pusher:unsubscribe","data":{}}'],
    ["unknown pusher event", '{"event":"pusher:unknown","data":{}}'],
    ["client event with an array channel", '{"event":"client-x","channel":["a"],"data":{}}'],
    ["client event with number data", '{"event":"client-x","channel":"a","data":5}'],
  ];
  for (const [what, text] of invalid) {
    test(`invalid: ${what}`, () => {
      expect(parseClientMessage(text).type).toBe("invalid");
    });
  }
  test("client events decode JSON-string data; other events are ignored", () => {
    expect(parseClientMessage('{"event":"client-x","channel":"a","data":"{\\"id\\":1}"}')).toMatchObject({ type: "client-event", data: { id: 1 } });
    expect(parseClientMessage('{"event":"other","channel":"a"}').type).toBe("ignored");
    expect(parseClientMessage('{"event":"pusher:ping"}').type).toBe("ping");
  });
  test("client events may carry a plain string, as pusher-js's trigger('client-x', 'hi') sends", () => {
    expect(parseClientMessage('{"event":"client-x","channel":"a","data":"hi"}')).toMatchObject({ type: "client-event", data: "hi" });
    expect(parseClientMessage('{"event":"client-x","channel":"a","data":"\\"hello\\""}')).toMatchObject({ type: "client-event", data: "hello" });
  });
  test("pusher:signin carries auth and user_data as strings, or null for the hub to refuse", () => {
    expect(parseClientMessage(JSON.stringify({ event: "pusher:signin", data: { auth: "k:s", user_data: '{"id":"1"}' } }))).toEqual({ type: "signin", auth: "k:s", userData: '{"id":"1"}' });
    expect(parseClientMessage('{"event":"pusher:signin","data":{"user_data":5}}')).toEqual({ type: "signin", auth: null, userData: null });
    expect(parseClientMessage('{"event":"pusher:signin"}')).toEqual({ type: "signin", auth: null, userData: null });
  });
});

describe("origins", () => {
  test("Reverb's accepted and rejected cases", () => {
    const check = (allowed: string[]) => compileOriginCheck(allowed)!;
    expect(check(["laravel.com"])("http://localhost")).toBe(false);
    expect(check(["laravel.com"])("http://sub.laravel.com")).toBe(false);
    expect(check(["*.laravel.com"])("http://laravel.com")).toBe(false);
    expect(check(["localhost"])("http://localhost")).toBe(true);
    expect(check(["localhost", "*.localhost"])("http://sub.localhost:3000")).toBe(true);
    expect(check(["laravel.com"])(null)).toBe(false);
    expect(check(["a.b"])("http://aXb")).toBe(false);
    expect(compileOriginCheck(["*"])).toBeNull();
  });
});

