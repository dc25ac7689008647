import type { HttpRequest as UwsHttpRequest } from "uWebSockets.js";
import type { HttpRequest, RequestUrl } from "../http/request.ts";

/** Header names as uWS gives them (lowercased), name then value; a repeated one is joined as `Headers` would join it. */
class HeaderList {
  readonly pairs: string[] = [];

  get(name: string): string | null {
    const wanted = name.toLowerCase();
    let joined: string | null = null;
    for (let i = 0; i < this.pairs.length; i += 2) {
      if (this.pairs[i] === wanted) joined = joined === null ? this.pairs[i + 1]! : `${joined}, ${this.pairs[i + 1]}`;
    }
    return joined;
  }
}

/** A URL that `URL` would leave as it is; its query is parsed only if a handler asks for it. */
class PlainUrl implements RequestUrl {
  private params: URLSearchParams | null = null;

  constructor(
    readonly pathname: string,
    readonly search: string,
  ) {}

  get searchParams(): URLSearchParams {
    return (this.params ??= new URLSearchParams(this.search));
  }
}

/** A request as the handlers read it, copied out of uWS's, which is freed once its handler returns. */
export class UwsRequest implements HttpRequest {
  readonly headers = new HeaderList();
  body: Uint8Array = new Uint8Array(0);

  constructor(
    readonly method: string,
    readonly url: RequestUrl,
  ) {}

  bytes(): Promise<Uint8Array> {
    return Promise.resolve(this.body);
  }
}

// What `URL` keeps unchanged: no dot segments, nothing it escapes or drops (a `#` starts a fragment).
// A `%` in the path could spell a dot segment, so such paths take the slow way too.
const PLAIN_PATH = /^\/[\w\-.~!$&'()*+,;=:@/]*$/;
const PLAIN_QUERY = /^[\w\-.~!$&()*+,;=:@/?%]*$/;

// uWS.js's forEach takes no `this`: one module-level target instead of a closure per request.
let collecting: string[] = [];
function collect(name: string, value: string): void {
  collecting.push(name, value);
}

/** The last Host that passed: a client repeats its Host on every request, so most cost one comparison. */
let passedHost = "localhost";

/**
 * Bun builds a request's URL from its Host header, and our `new URL(request.url)` throws on one that
 * is no `host[:port]` (empty, a bad port or IPv4 address, a `/` in it); uWS.js does not look. This
 * says whether Bun's transport would have got that far, so both answer such a request alike.
 */
export function hostPasses(host: string): boolean {
  if (host === passedHost) return true;
  if (/[\/?#@\\]/.test(host) || !URL.canParse(`http://${host}`)) return false;
  passedHost = host;
  return true;
}

/** The Host plays no part: `hostPasses` has checked it, and the route never depended on it. */
export function readHead(req: UwsHttpRequest): UwsRequest {
  const path = req.getUrl();
  const query = req.getQuery();
  const url =
    PLAIN_PATH.test(path) && !path.includes("/.") && PLAIN_QUERY.test(query)
      ? new PlainUrl(path, query ? `?${query}` : "")
      : new URL(`http://localhost${path}${query ? `?${query}` : ""}`);
  const request = new UwsRequest(req.getCaseSensitiveMethod(), url);
  collecting = request.headers.pairs;
  req.forEach(collect);
  return request;
}
