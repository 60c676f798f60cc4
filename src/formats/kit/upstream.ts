// Requests to proxies' remotes: the one HTTP client of every format.
// Per-host connection limits are per node: the composition root owns the one Upstreams object.
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { RemoteConfig, RepositoryRecord } from "../../repositories/types.js";
import { DomainError } from "../../errors.js";
import { readBounded } from "../../streams.js";
import { fetchGuarded, originOf, RedirectError } from "./upstream-redirects.js";
import type { UpstreamClient } from "./contract.js";

/** A remote that failed (502) or was too slow (504): a DomainError of the one error table. */
export class UpstreamError extends DomainError {
  constructor(status: 502 | 504, message: string) {
    super(status === 504 ? "GATEWAY_TIMEOUT" : "BAD_GATEWAY", message);
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

/** The http_client settings (REST reference, settings) every upstream request follows. */
export interface HttpClientSettings {
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

export class Upstreams implements UpstreamClient {
  private readonly destinations = new Map<string, Semaphore>();
  constructor(
    /** The current http_client settings (read per request: they change at runtime). */
    private readonly settings: () => Promise<HttpClientSettings>,
    private readonly userAgent: string,
  ) {}

  /**
   * One request to a remote. Returns any HTTP status the upstream gave (callers decide what 404
   * means); throws UpstreamError 502 on network errors and 504 when the upstream is too slow
   * (no response within proxy_timeout, or no body bytes for idle_timeout).
   */
  async fetch(remote: RemoteConfig, path: string, req: UpstreamRequest = {}): Promise<UpstreamResponse> {
    const settings = await this.settings();
    const url = remoteUrl(remote, path);
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      throw new UpstreamError(502, `Invalid upstream URL '${url}'`);
    }
    const responseTimeout = durationMs(remote.timeout ?? remote.proxy_timeout, settings.proxy_timeout);
    const idleTimeout = durationMs(remote.idle_timeout, settings.idle_timeout);
    const sem = this.destinations.get(host) ?? new Semaphore();
    this.destinations.set(host, sem);
    await sem.acquire(
      settings.max_connections_per_destination || 64,
      settings.max_requests_queued_per_destination || 128,
      settings.connection_acquire_timeout || 30000,
      host,
    );
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
    const plain: Record<string, string> = { "user-agent": this.userAgent };
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
      res = await fetchGuarded(new URL(url), {
        method: req.method ?? "GET",
        headers: plain,
        credentials: secret,
        origin: remoteOrigin,
        signal: controller.signal,
        follow,
      });
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
}

/** Reads a whole (small) upstream body, e.g. metadata documents. */
export async function readBody(res: UpstreamResponse, limit = 64 * 1024 * 1024): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  return readBounded(res.body, limit, () => new UpstreamError(502, `Upstream document ${res.url} is larger than ${limit} bytes`));
}

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
