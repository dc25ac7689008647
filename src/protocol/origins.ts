/**
 * `allowed_origins` entries are globs (`*` wildcard, case-sensitive) matched against the host of
 * the `Origin` header; a bare `*` entry allows every origin, even a missing one.
 */
export type OriginCheck = (origin: string | null) => boolean;

const ALLOW_ALL: OriginCheck = () => true;

function globToRegExp(glob: string): RegExp {
  const escaped = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

export function compileOriginCheck(allowed: readonly string[]): OriginCheck {
  if (allowed.includes("*")) return ALLOW_ALL;
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
