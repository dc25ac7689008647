/** One event of a webhook body, with Pusher's names and fields. */
export type WebhookEvent =
  | { readonly name: "channel_occupied" | "channel_vacated" | "cache_miss"; readonly channel: string }
  | { readonly name: "member_added" | "member_removed"; readonly channel: string; readonly user_id: string }
  | {
      readonly name: "client_event";
      readonly channel: string;
      readonly event: string;
      /** Pusher's HTTP side carries event data as a string: JSON-encoded unless it was one. */
      readonly data: string;
      readonly socket_id: string;
      readonly user_id?: string;
    }
  | { readonly name: "subscription_count"; readonly channel: string; readonly subscription_count: number };

/** The Pusher webhook body: when it was made, and its events. */
export function webhookBody(events: readonly WebhookEvent[], timeMs: number): string {
  return JSON.stringify({ time_ms: timeMs, events });
}
