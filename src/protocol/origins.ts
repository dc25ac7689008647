/**
 * `allowed_origins` entries are globs (`*` wildcard, case-sensitive) matched against the host of
 * the `Origin` header; a bare `*` entry allows every origin, even a missing one.
 */
export type OriginCheck = (origin: string | null) => boolean;

function globToRegExp(glob: string): RegExp {
  const escaped = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

/** Null when every origin is allowed, so the caller need not even read the header. */
export function compileOriginCheck(allowed: readonly string[]): OriginCheck | null {
  if (allowed.includes("*")) return null;
  const patterns = allowed.map(globToRegExp);
  return (origin) => {
    if (!origin) return false;
    let host: string;
    try {
      host = new URL(origin).hostname;
    } catch {
      return false;
    }
    return patterns.some((pattern) => pattern.test(host));
  };
}
