// Following upstream redirects by hand, so credentials reach only the origin they were meant for.
// Registries commonly redirect downloads to a CDN or object store (S3 presigned URLs); sending the
// remote's Authorization or Cookie there would leak them, whatever the fetch implementation's
// own rules for cross-origin redirects are.

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 20;

/** A redirect that cannot be followed: invalid or non-HTTP Location, or too many hops. */
export class RedirectError extends Error {}

export function originOf(url: string | URL): string | null {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : null;
  } catch {
    return null;
  }
}

export interface GuardedFetch {
  method: string;
  /** Sent on every hop. */
  headers: Record<string, string>;
  /** Sent only while the target's origin is `origin` (Authorization, Cookie...). */
  credentials: Record<string, string>;
  /** The origin the credentials belong to (null: never send them). */
  origin: string | null;
  signal?: AbortSignal;
  /** false: return the 3xx response itself. */
  follow?: boolean;
}

/** fetch() that follows redirects hop by hop, sending `credentials` only to `origin`. */
export async function fetchGuarded(start: URL, opts: GuardedFetch): Promise<Response> {
  let target = start;
  for (let hops = 0; ; hops++) {
    const headers = opts.origin !== null && target.origin === opts.origin ? { ...opts.headers, ...opts.credentials } : opts.headers;
    const res = await fetch(target, { method: opts.method, headers, redirect: "manual", signal: opts.signal });
    const location = opts.follow !== false && REDIRECTS.has(res.status) ? res.headers.get("location") : null;
    if (!location) return res;
    await res.body?.cancel().catch(() => {});
    let next: URL;
    try {
      next = new URL(location, target);
    } catch {
      throw new RedirectError(`Upstream ${target.host} redirected to an invalid URL '${location}'`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:")
      throw new RedirectError(`Upstream ${target.host} redirected to a non-HTTP URL '${next.protocol}'`);
    if (hops + 1 > MAX_REDIRECTS) throw new RedirectError(`Upstream ${start.host} redirected more than ${MAX_REDIRECTS} times`);
    target = next;
  }
}
