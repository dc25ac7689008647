import * as v from "valibot";

/** Request bodies of the event routes, with Laravel's validation messages for the 422 bag. */

const EventFields = {
  name: v.string(),
  data: v.string(),
  socket_id: v.optional(v.string()),
  info: v.optional(v.string()),
};

export const EventBody = v.pipe(
  v.object({
    ...EventFields,
    channels: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
    channel: v.optional(v.string()),
  }),
  v.forward(
    v.check((body) => body.channels !== undefined || body.channel !== undefined, "required_without"),
    ["channels"],
  ),
);

export const BatchBody = v.object({
  batch: v.array(v.object({ ...EventFields, channel: v.string() })),
});

export type EventBodyOutput = v.InferOutput<typeof EventBody>;
export type BatchBodyOutput = v.InferOutput<typeof BatchBody>;

function laravelMessage(field: string, issue: v.BaseIssue<unknown>): string {
  const label = field.replaceAll("_", " ");
  if (issue.message === "required_without") return `The ${label} field is required when channel is not present.`;
  if (issue.received === "undefined") return `The ${label} field is required.`;
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
