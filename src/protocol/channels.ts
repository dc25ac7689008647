/** What a channel name implies, by prefix. First rule wins, as in Reverb's channel broker. */
export interface ChannelKind {
  readonly name: "public" | "private" | "presence";
  /** Subscribing needs an `auth` signature. */
  readonly authenticated: boolean;
  readonly presence: boolean;
  /** The last event is kept and replayed to new subscribers. */
  readonly cache: boolean;
}

const PUBLIC: ChannelKind = { name: "public", authenticated: false, presence: false, cache: false };
const PUBLIC_CACHE: ChannelKind = { name: "public", authenticated: false, presence: false, cache: true };
const PRIVATE: ChannelKind = { name: "private", authenticated: true, presence: false, cache: false };
const PRIVATE_CACHE: ChannelKind = { name: "private", authenticated: true, presence: false, cache: true };
const PRESENCE: ChannelKind = { name: "presence", authenticated: true, presence: true, cache: false };
const PRESENCE_CACHE: ChannelKind = { name: "presence", authenticated: true, presence: true, cache: true };

// `cache`, `private` and `presence` match without a dash, like Reverb; `private-encrypted-cache-`
// is a cache channel as in Pusher (Reverb treats it as plain private).
const RULES: ReadonlyArray<readonly [string, ChannelKind]> = [
  ["private-cache-", PRIVATE_CACHE],
  ["private-encrypted-cache-", PRIVATE_CACHE],
  ["presence-cache-", PRESENCE_CACHE],
  ["cache", PUBLIC_CACHE],
  ["private", PRIVATE],
  ["presence", PRESENCE],
];

export function channelKind(channel: string): ChannelKind {
  for (const [prefix, kind] of RULES) {
    if (channel.startsWith(prefix)) return kind;
  }
  return PUBLIC;
}
