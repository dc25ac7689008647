/** Every route the server answers, matched on the path after the configured prefix. */
export type Route =
  | { name: "health" }
  | { name: "metrics" }
  | { name: "dashboard" }
  | { name: "dashboard_data" }
  | { name: "websocket"; appKey: string }
  | { name: "events"; appId: string }
  | { name: "batch_events"; appId: string }
  | { name: "connections"; appId: string }
  | { name: "channels"; appId: string }
  | { name: "channel"; appId: string; channel: string }
  | { name: "channel_users"; appId: string; channel: string }
  | { name: "terminate_connections"; appId: string; userId: string };

export const ROUTE_METHODS: Record<Route["name"], "GET" | "POST"> = {
  health: "GET",
  metrics: "GET",
  dashboard: "GET",
  dashboard_data: "GET",
  websocket: "GET",
  events: "POST",
  batch_events: "POST",
  connections: "GET",
  channels: "GET",
  channel: "GET",
  channel_users: "GET",
  terminate_connections: "POST",
};

function decode(segment: string): string | null {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Splits on raw `/` first, so an encoded `%2F` inside a channel name stays part of it. */
export function matchRoute(pathname: string, prefix: string): Route | null {
  if (prefix !== "") {
    if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return null;
    pathname = pathname.slice(prefix.length);
  }
  const raw = pathname.split("/").slice(1);
  const parts: string[] = [];
  for (const segment of raw) {
    const decoded = decode(segment);
    if (decoded === null || decoded === "") return null;
    parts.push(decoded);
  }
  const [root, id, resource, name, tail, extra] = parts;

  if (parts.length === 1 && root === "up") return { name: "health" };
  if (parts.length === 1 && root === "metrics") return { name: "metrics" };
  if (parts.length === 1 && root === "dashboard") return { name: "dashboard" };
  if (parts.length === 2 && root === "dashboard" && id === "data") return { name: "dashboard_data" };
  if (parts.length === 2 && root === "app") return { name: "websocket", appKey: id! };
  if (root !== "apps" || id === undefined || extra !== undefined) return null;
  const appId = id;
  if (parts.length === 3) {
    if (resource === "events") return { name: "events", appId };
    if (resource === "batch_events") return { name: "batch_events", appId };
    if (resource === "connections") return { name: "connections", appId };
    if (resource === "channels") return { name: "channels", appId };
    return null;
  }
  if (resource === "channels" && parts.length === 4) return { name: "channel", appId, channel: name! };
  if (resource === "channels" && tail === "users") return { name: "channel_users", appId, channel: name! };
  if (resource === "users" && tail === "terminate_connections") return { name: "terminate_connections", appId, userId: name! };
  return null;
}
