// The shared upstream fetcher for every *-proxy repository.
//
//   upstreamFetch(app, remote, path)   one HTTP request to a remote: http_client timeouts, Basic/Bearer
//                                      credentials from the remote config (sent only to the origin of
//                                      remote.url, redirects followed here hop by hop), per-host
//                                      connection limits, network errors → UpstreamError 502, timeouts → 504.
//   cachedFetch(scope, key, opts)      the usual proxy read: serve from storage, otherwise fetch once
//                                      (single flight per repository+key), store atomically, remember
//                                      misses for the negative-cache TTL, serve the stale copy when the
//                                      upstream fails.
//   singleFlight(key, fn)              share one in-flight promise between concurrent callers.
//
// The dispatcher maps UpstreamError to {error:"BAD_GATEWAY"|"GATEWAY_TIMEOUT", message, status}.
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { AppContext } from "../context.js";
import type { RemoteConfig, RepositoryRecord } from "../repositories/types.js";
import type { Digests, StoredObject } from "../storage/types.js";
import type { RequestScope } from "./types.js";
import { readBounded } from "../streams.js";
import { fetchGuarded, originOf, RedirectError } from "./kit/upstream-redirects.js";

export class UpstreamError extends Error {
  readonly status: 502 | 504;
  readonly code: "BAD_GATEWAY" | "GATEWAY_TIMEOUT";
  readonly expose = true;
  constructor(status: 502 | 504, message: string) {
    super(message);
    this.status = status;
    this.code = status === 504 ? "GATEWAY_TIMEOUT" : "BAD_GATEWAY";
  }
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** Streamed body (null for HEAD / empty). Destroy it when not consumed. */
  body: Readable | null;
  url: string;
  /** The URL that gave this response, after redirects (a challenge is only trusted from the remote's own origin). */
  finalUrl: string;
  /** Parsed Last-Modified, the best generic "released at" an upstream gives. */
  lastModified: Date | null;
}

export interface UpstreamRequest {
  method?: "GET" | "HEAD";
  headers?: Record<string, string>;
}

interface HttpClientSettings {
  proxy_timeout: number;
  connection_timeout: number;
  idle_timeout: number;
  follow_redirects: boolean;
  connection_acquire_timeout: number;
  max_connections_per_destination: number;
  max_requests_queued_per_destination: number;
}

/** Milliseconds from a number (ms), a "30s"/"5m"/"1h"/"2d" string or an ISO-8601 duration. */
export function durationMs(value: unknown, fallback: number, numberUnitMs = 1): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value * numberUnitMs;
  if (typeof value !== "string" || !value.trim()) return fallback;
  const s = value.trim();
  if (/^\d+$/.test(s)) return Number(s) * numberUnitMs;
  const simple = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(s);
  if (simple) return Number(simple[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[simple[2].toLowerCase() as "s"];
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(s);
  if (iso && s.length > 1 && s.toUpperCase() !== "PT") {
    const [, d, h, m, sec] = iso;
    return (Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(sec ?? 0)) * 1000;
  }
  return fallback;
}

// ---- per-destination connection limits ---------------------------------------------------

class Semaphore {
  active = 0;
  queue: Array<() => void> = [];
  async acquire(max: number, maxQueued: number, timeoutMs: number, host: string): Promise<void> {
    if (this.active < max) {
      this.active++;
      return;
    }
    if (this.queue.length >= maxQueued) throw new UpstreamError(502, `Too many requests queued for upstream ${host}`);
    await new Promise<void>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new UpstreamError(504, `Timed out waiting for a connection to upstream ${host}`));
      }, timeoutMs);
      this.queue.push(waiter);
    });
    this.active++;
  }
  release(): void {
    this.active--;
    this.queue.shift()?.();
  }
}
const destinations = new Map<string, Semaphore>();

async function httpClient(app: AppContext): Promise<HttpClientSettings> {
  return (await app.settings.get("http_client")) as unknown as HttpClientSettings;
}

/** Encodes a storage key as a URL path (each segment percent-encoded, '/' kept). */
export function encodePath(key: string): string {
  return key
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
}

/** remote.url + relative (already encoded) path; absolute URLs are returned unchanged. */
export function remoteUrl(remote: RemoteConfig, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  return remote.url.replace(/\/+$/, "") + "/" + path.replace(/^\/+/, "");
}

/** Request headers that carry credentials: sent to the remote's own origin only. */
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

function credentialsHeader(remote: RemoteConfig): string | undefined {
  if (remote.username !== undefined && remote.username !== "") {
    return "Basic " + Buffer.from(`${remote.username}:${remote.password ?? ""}`).toString("base64");
  }
  const token = remote.token ?? remote.auth_token;
  if (typeof token === "string" && token) return `Bearer ${token}`;
  return undefined;
}

/**
 * One request to a remote. Returns any HTTP status the upstream gave (callers decide what 404
 * means); throws UpstreamError 502 on network errors and 504 when the upstream is too slow
 * (no response within proxy_timeout, or no body bytes for idle_timeout).
 */
export async function upstreamFetch(app: AppContext, remote: RemoteConfig, path: string, req: UpstreamRequest = {}): Promise<UpstreamResponse> {
  const settings = await httpClient(app);
  const url = remoteUrl(remote, path);
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    throw new UpstreamError(502, `Invalid upstream URL '${url}'`);
  }
  const responseTimeout = durationMs(remote.timeout ?? remote.proxy_timeout, settings.proxy_timeout);
  const idleTimeout = durationMs(remote.idle_timeout, settings.idle_timeout);
  const sem = destinations.get(host) ?? new Semaphore();
  destinations.set(host, sem);
  await sem.acquire(settings.max_connections_per_destination || 64, settings.max_requests_queued_per_destination || 128, settings.connection_acquire_timeout || 30000, host);
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      sem.release();
    }
  };
  // Credentials (the remote's, or any the caller passed) go to the remote's own origin only: an
  // absolute URL elsewhere (a CDN in a packument or index page) or a redirect off the origin gets
  // the request without them. Redirects are followed here, hop by hop, so this holds whatever the
  // fetch implementation does with Authorization on redirects.
  const remoteOrigin = originOf(remote.url);
  const plain: Record<string, string> = { "user-agent": `pantera/${app.config.version}` };
  const secret: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (CREDENTIAL_HEADERS.has(name.toLowerCase())) secret[name.toLowerCase()] = value;
    else plain[name] = value;
  }
  const auth = credentialsHeader(remote);
  if (auth && secret.authorization === undefined) secret.authorization = auth;
  const follow = settings.follow_redirects !== false;
  const controller = new AbortController();
  let timedOut = false;
  const responseTimer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, responseTimeout);
  let res: Response;
  try {
    res = await fetchGuarded(new URL(url), { method: req.method ?? "GET", headers: plain, credentials: secret, origin: remoteOrigin, signal: controller.signal, follow });
  } catch (err) {
    release();
    clearTimeout(responseTimer);
    if (err instanceof RedirectError) throw new UpstreamError(502, err.message);
    if (timedOut) throw new UpstreamError(504, `Upstream ${host} did not answer within ${responseTimeout} ms`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new UpstreamError(502, `Upstream ${host} is unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  clearTimeout(responseTimer);
  const lm = res.headers.get("last-modified");
  const lastModified = lm && !Number.isNaN(Date.parse(lm)) ? new Date(lm) : null;
  if (!res.body || req.method === "HEAD") {
    release();
    return { status: res.status, headers: res.headers, body: null, url, finalUrl: res.url || url, lastModified };
  }
  const source = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  // Idle timeout while streaming: abort the fetch, the stream errors, storage discards the temp file.
  // (A Transform re-arms the timer; a 'data' listener would switch the source to flowing mode.)
  let idle: NodeJS.Timeout | undefined;
  const body: Readable = new Transform({
    transform(chunk, _enc, cb) {
      arm();
      cb(null, chunk);
    },
  });
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      body.destroy(new UpstreamError(504, `Upstream ${host} stalled for ${idleTimeout} ms`));
      controller.abort();
    }, idleTimeout);
  };
  arm();
  source.once("error", (err) => body.destroy(err));
  source.pipe(body as Transform);
  const done = () => {
    clearTimeout(idle);
    release();
  };
  body.once("close", () => {
    done();
    if (!source.destroyed) source.destroy();
  });
  body.once("end", done);
  body.once("error", done);
  return { status: res.status, headers: res.headers, body, url, finalUrl: res.url || url, lastModified };
}

/** Reads a whole (small) upstream body, e.g. metadata documents. */
export async function readBody(res: UpstreamResponse, limit = 64 * 1024 * 1024): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  return readBounded(res.body, limit, () => new UpstreamError(502, `Upstream document ${res.url} is larger than ${limit} bytes`));
}

// ---- single flight -------------------------------------------------------------------------

const inflight = new Map<string, Promise<unknown>>();

/** Concurrent calls with the same key share one execution of `fn`. */
export function singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const running = inflight.get(key);
  if (running) return running as Promise<T>;
  const p = (async () => {
    try {
      return await fn();
    } finally {
      inflight.delete(key);
    }
  })();
  inflight.set(key, p);
  return p;
}

// ---- negative cache ------------------------------------------------------------------------

export class NegativeCache {
  private entries = new Map<string, number>();
  has(key: string): boolean {
    const until = this.entries.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.entries.delete(key);
    return false;
  }
  add(key: string, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (this.entries.size > 100_000) this.entries.clear(); // bounded: a flood of misses cannot grow memory
    this.entries.set(key, Date.now() + ttlMs);
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
  deletePrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}

const negativeCaches = new WeakMap<AppContext, NegativeCache>();
const appIds = new WeakMap<AppContext, string>();
let nextAppId = 0;

/** The negative cache of one node; entries of a repository are dropped when it changes. */
export function negativeCache(app: AppContext): NegativeCache {
  let cache = negativeCaches.get(app);
  if (!cache) {
    const c = new NegativeCache();
    cache = c;
    negativeCaches.set(app, c);
    app.bus.on((e) => {
      if (e.type === "repository.changed") c.deletePrefix(e.name + "\0");
      else if (e.type === "artifact.stored") c.delete(e.repo + "\0" + e.path);
    });
  }
  return cache;
}

function appId(app: AppContext): string {
  let id = appIds.get(app);
  if (!id) appIds.set(app, (id = String(++nextAppId)));
  return id;
}

/** How long a miss is remembered: repo `negative_cache_ttl` (or remote's, or `cache.negative_ttl`); seconds or a duration. Default 5 min. */
export function negativeTtlMs(repo: RepositoryRecord, remote?: RemoteConfig): number {
  const cfg = repo.config as Record<string, any>;
  const value = remote?.negative_cache_ttl ?? cfg.negative_cache_ttl ?? cfg.cache?.negative_ttl ?? cfg.cache?.negative_cache_ttl;
  return durationMs(value, 300_000, 1000);
}

/** How long cached metadata is served before re-checking the upstream: `metadata_ttl` (seconds or duration). */
export function metadataTtlMs(repo: RepositoryRecord, fallbackMs = 300_000): number {
  const cfg = repo.config as Record<string, any>;
  return durationMs(cfg.metadata_ttl ?? cfg.cache?.metadata_ttl, fallbackMs, 1000);
}

// ---- the proxy read path -------------------------------------------------------------------

export interface CachedFetchOptions {
  /** Path (encoded, relative to each remote's url, or absolute) to request; default: the encoded key. */
  remotePath?: string;
  /** Re-check the upstream when the cached copy is older than this (metadata); omitted = cached forever. */
  maxAgeMs?: number;
  headers?: Record<string, string>;
  /** Rewrite or validate the body before it is stored (e.g. rewrite URLs). Throw UpstreamError to reject. */
  transform?: (body: Readable, res: UpstreamResponse) => Promise<Readable | Buffer | string> | Readable | Buffer | string;
  /** Runs once after the copy is stored (index it, record the release date...). */
  onStored?: (info: { key: string; size: number; digests: Digests; upstream: UpstreamResponse }) => Promise<void> | void;
}

export interface CachedResult {
  /** cache: served from storage; upstream: fetched now; stale: upstream failed, cached copy served. */
  source: "cache" | "upstream" | "stale";
  stat: StoredObject;
  upstream?: UpstreamResponse;
}

/**
 * Proxy read: the cached object, or one upstream fetch (shared by concurrent callers) stored into
 * the repository's storage. Returns null when no remote has the path (remembered for the negative
 * TTL). Throws UpstreamError (502/504) when the upstream fails and nothing is cached.
 * The caller then streams `scope.storage.get(key)`.
 */
export async function cachedFetch(scope: RequestScope, key: string, opts: CachedFetchOptions = {}): Promise<CachedResult | null> {
  const { app, repo, storage } = scope;
  const stat = await storage.stat(key);
  if (stat && (opts.maxAgeMs === undefined || Date.now() - stat.modified.getTime() < opts.maxAgeMs)) return { source: "cache", stat };
  const neg = negativeCache(app);
  const negKey = repo.name + "\0" + key;
  if (!stat && neg.has(negKey)) return null;
  return singleFlight(`${appId(app)}\0${repo.name}\0${key}`, async () => {
    let failure: UpstreamError | null = null;
    for (const remote of repo.remotes) {
      if (!remote?.url) continue;
      try {
        const res = await upstreamFetch(app, remote, opts.remotePath ?? encodePath(key), { headers: opts.headers });
        if (res.status === 404 || res.status === 410) {
          res.body?.destroy();
          continue;
        }
        if (res.status < 200 || res.status >= 300 || !res.body) {
          res.body?.destroy();
          throw new UpstreamError(502, `Upstream ${res.url} answered HTTP ${res.status}`);
        }
        const body = opts.transform ? await opts.transform(res.body, res) : res.body;
        const put = await storage.put(key, body);
        // A stale copy that we just replaced must not keep its old mtime semantics.
        await opts.onStored?.({ key, size: put.size, digests: put.digests, upstream: res });
        neg.delete(negKey);
        const fresh = (await storage.stat(key)) ?? { key, size: put.size, modified: new Date() };
        return { source: "upstream" as const, stat: fresh, upstream: res };
      } catch (err) {
        failure = err instanceof UpstreamError ? err : new UpstreamError(502, `Upstream fetch failed: ${(err as Error).message}`);
        app.log.warn("upstream fetch failed", { repo: repo.name, key, err: failure.message });
      }
    }
    if (stat) return { source: "stale" as const, stat };
    if (failure) throw failure;
    neg.add(negKey, negativeTtlMs(repo, repo.remotes[0]));
    return null;
  });
}
