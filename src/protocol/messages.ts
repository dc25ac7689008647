import * as v from "valibot";

/**
 * Inbound frames. Reverb's rules: `event` must be a string; a `data` string holding JSON is
 * decoded in place (Java and Flutter clients send it that way); subscribe's `channel_data` must
 * be a string of valid JSON, kept verbatim because the auth signature covers its exact bytes.
 */

const jsonObject = v.custom<Record<string, unknown>>(
  (input) => typeof input === "object" && input !== null,
  "expected an object or array",
);

const jsonString = v.pipe(
  v.string(),
  v.check((input) => parseJson(input) !== undefined, "expected a string of valid JSON"),
);

const SubscribeData = v.object({
  channel: v.string(),
  auth: v.nullish(v.string()),
  channel_data: v.nullish(jsonString),
});

const UnsubscribeData = v.object({ channel: v.string() });

// A plain string (pusher-js `trigger('client-x', 'hi')`, mobile SDKs) is relayed as Pusher relays it.
const ChannelEvent = v.object({
  event: v.string(),
  channel: v.string(),
  data: v.nullish(v.union([jsonObject, v.string()], "expected an object, an array or a string")),
});

export type ClientMessage =
  | { readonly type: "subscribe"; readonly channel: string; readonly auth: string | null; readonly channelData: string | null }
  | { readonly type: "unsubscribe"; readonly channel: string }
  | { readonly type: "ping" }
  | { readonly type: "pong" }
  | { readonly type: "reestablish" }
  /** Checked by the hub, which answers every problem with 4009 and closes (Pusher's rule). */
  | { readonly type: "signin"; readonly auth: string | null; readonly userData: string | null }
  /** `message` is the whole decoded frame: `all` mode forwards it untouched. */
  | { readonly type: "client-event"; readonly event: string; readonly channel: string; readonly data: Record<string, unknown> | string | null; readonly message: Record<string, unknown> }
  | { readonly type: "ignored" };

/** Why a frame was refused; every one of them is answered with 4200. */
export type InvalidMessage = { readonly type: "invalid"; readonly reason: string };

const PING: ClientMessage = { type: "ping" };
const PONG: ClientMessage = { type: "pong" };
const REESTABLISH: ClientMessage = { type: "reestablish" };
const IGNORED: ClientMessage = { type: "ignored" };

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function invalid(reason: string): InvalidMessage {
  return { type: "invalid", reason };
}

function issueText(issues: v.BaseIssue<unknown>[]): string {
  const issue = issues[0]!;
  const path = v.getDotPath(issue);
  return path ? `${path}: ${issue.message}` : issue.message;
}

export function parseClientMessage(text: string): ClientMessage | InvalidMessage {
  const frame = parseJson(text);
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return invalid("not a JSON object");
  const message = frame as Record<string, unknown>;
  const event = message.event;
  if (typeof event !== "string") return invalid("event must be a string");
  if (typeof message.data === "string") {
    const decoded = parseJson(message.data);
    if (decoded !== undefined) message.data = decoded;
  }

  if (event.startsWith("pusher:")) {
    switch (event) {
      case "pusher:subscribe": {
        const result = v.safeParse(SubscribeData, message.data);
        if (!result.success) return invalid(issueText(result.issues));
        const { channel, auth, channel_data } = result.output;
        return { type: "subscribe", channel, auth: auth ?? null, channelData: channel_data ?? null };
      }
      case "pusher:unsubscribe": {
        const result = v.safeParse(UnsubscribeData, message.data);
        if (!result.success) return invalid(issueText(result.issues));
        return { type: "unsubscribe", channel: result.output.channel };
      }
      case "pusher:ping":
        return PING;
      case "pusher:pong":
        return PONG;
      case "pusher:connection_established":
        return REESTABLISH;
      case "pusher:signin": {
        const data = typeof message.data === "object" && message.data !== null ? (message.data as Record<string, unknown>) : {};
        return {
          type: "signin",
          auth: typeof data.auth === "string" ? data.auth : null,
          userData: typeof data.user_data === "string" ? data.user_data : null,
        };
      }
      default:
        return invalid(`unsupported event ${event}`);
    }
  }

  const result = v.safeParse(ChannelEvent, message);
  if (!result.success) return invalid(issueText(result.issues));
  if (!event.startsWith("client-")) return IGNORED;
  return { type: "client-event", event, channel: result.output.channel, data: result.output.data ?? null, message };
}

/** The decoded `channel_data` of a subscription, or null when absent or not an object. */
export function parseChannelData(channelData: string | null): Record<string, unknown> | null {
  if (channelData === null || channelData === "") return null;
  const decoded = parseJson(channelData);
  return typeof decoded === "object" && decoded !== null && !Array.isArray(decoded)
    ? (decoded as Record<string, unknown>)
    : null;
}
