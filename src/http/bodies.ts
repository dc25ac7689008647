import * as v from "valibot";
import { SERVER_TO_USER_PREFIX } from "../protocol/user-data.ts";

/** Request bodies of the event routes, with Laravel's validation messages for the 422 bag. */

/** `#` names are the server's own; the API may send only to `#server-to-user-<id>` (`sendToUser`). */
const channelName = v.pipe(
  v.string(),
  v.check((name) => !name.startsWith("#") || (name.startsWith(SERVER_TO_USER_PREFIX) && name.length > SERVER_TO_USER_PREFIX.length), "reserved"),
);

const EventFields = {
  name: v.string(),
  data: v.string(),
  socket_id: v.optional(v.string()),
  info: v.optional(v.string()),
};

const namesAChannel = (body: { channels?: unknown; channel?: unknown }) => body.channels !== undefined || body.channel !== undefined;

export const EventBody = v.pipe(
  v.object({
    ...EventFields,
    channels: v.optional(v.pipe(v.array(channelName), v.minLength(1))),
    channel: v.optional(channelName),
  }),
  // Laravel's required_without names both fields when neither is given, whatever else failed.
  // Each check skips only when its own field already failed: then that field was present.
  v.forward(v.partialCheck([["channels"]], namesAChannel, "required_without:channel"), ["channels"]),
  v.forward(v.partialCheck([["channel"]], namesAChannel, "required_without:channels"), ["channel"]),
);

export const BatchBody = v.object({
  batch: v.array(v.object({ ...EventFields, channel: channelName })),
});

export type EventBodyOutput = v.InferOutput<typeof EventBody>;
export type BatchBodyOutput = v.InferOutput<typeof BatchBody>;

function laravelMessage(field: string, issue: v.BaseIssue<unknown>): string {
  const label = field.replaceAll("_", " ");
  const other = issue.message.match(/^required_without:(\w+)$/)?.[1];
  if (other) return `The ${label} field is required when ${other} is not present.`;
  if (issue.received === "undefined") return `The ${label} field is required.`;
  if (issue.message === "reserved") return `The ${label} field names a reserved # channel; only #server-to-user-<id> may be sent to.`;
  if (issue.type === "min_length") return `The ${label} field must have at least 1 items.`;
  if (issue.expected === "Array") return `The ${label} field must be an array.`;
  if (issue.expected === "Object") return `The ${label} field must be an object.`;
  return `The ${label} field must be a string.`;
}

/** Reverb's (Laravel's) error bag: field path → messages. */
export function errorBag(issues: v.BaseIssue<unknown>[]): Record<string, string[]> {
  const bag: Record<string, string[]> = {};
  for (const issue of issues) {
    const field = v.getDotPath(issue) ?? "body";
    (bag[field] ??= []).push(laravelMessage(field, issue));
  }
  return bag;
}
