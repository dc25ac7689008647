import { describe, expect, test } from "bun:test";
import { apiStringToSign, hmacSha256Hex, md5Hex, signChannel, verifyChannelAuth } from "../src/protocol/signatures.ts";

// The Pusher documentation's test vectors (protocol.md section (c) and (d)).
const KEY = "278d425bdf160c739803";
const SECRET = "7ad3773142a6692b25b8";

describe("channel auth signatures", () => {
  test("private channel vector", () => {
    expect(signChannel(KEY, SECRET, "1234.1234", "private-foobar")).toBe(
      `${KEY}:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4`,
    );
  });

  test("presence channel vector covers channel_data verbatim", () => {
    const channelData = '{"user_id":10,"user_info":{"name":"Mr. Pusher"}}';
    expect(signChannel(KEY, SECRET, "1234.1234", "presence-foobar", channelData)).toBe(
      `${KEY}:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c`,
    );
  });

  test("user auth string vector", () => {
    expect(hmacSha256Hex(SECRET, '1234.1234::user::{"id":"12345"}')).toBe(
      "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba",
    );
  });

  test("verification accepts key:signature and a bare signature, rejects anything else", () => {
    const auth = signChannel(KEY, SECRET, "1234.1234", "private-foobar");
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, auth)).toBe(true);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, auth.split(":")[1]!)).toBe(true);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1235", "private-foobar", null, auth)).toBe(false);
    expect(verifyChannelAuth(KEY, "other", "1234.1234", "private-foobar", null, auth)).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, `${auth}0`)).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, "")).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, null)).toBe(false);
  });

  test("the key before the colon must be the app's own, as Pusher checks", () => {
    const signature = signChannel(KEY, SECRET, "1234.1234", "private-foobar").split(":")[1]!;
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, `another-key:${signature}`)).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, `:${signature}`)).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, `${KEY}x:${signature}`)).toBe(false);
    expect(verifyChannelAuth(KEY, SECRET, "1234.1234", "private-foobar", null, `${KEY}:${signature}`)).toBe(true);
  });

  test("presence verification fails when channel_data changes by one byte", () => {
    const data = '{"user_id":10}';
    const auth = signChannel(KEY, SECRET, "1.1", "presence-x", data);
    expect(verifyChannelAuth(KEY, SECRET, "1.1", "presence-x", data, auth)).toBe(true);
    expect(verifyChannelAuth(KEY, SECRET, "1.1", "presence-x", '{"user_id":11}', auth)).toBe(false);
  });
});

describe("HTTP API signatures", () => {
  test("the documented events request", () => {
    const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
    expect(md5Hex(body)).toBe("ec365a775a4cd0599faeb73354201b6f");
    const params = new URLSearchParams({ auth_key: KEY, auth_timestamp: "1353088179", auth_version: "1.0" });
    const toSign = apiStringToSign("POST", "/apps/3/events", params, md5Hex(body));
    expect(toSign).toBe(
      "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f",
    );
    expect(hmacSha256Hex(SECRET, toSign)).toBe("da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
  });

  test("auth_signature and a client body_md5 are left out; keys sort byte-wise", () => {
    const params = new URLSearchParams("b=2&auth_signature=x&body_md5=wrong&A=1&a=3");
    expect(apiStringToSign("GET", "/apps/1/channels", params, null)).toBe("GET\n/apps/1/channels\nA=1&a=3&b=2");
  });
});
