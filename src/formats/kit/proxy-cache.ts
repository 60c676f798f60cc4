// The proxy read path: serve from the repository's storage, otherwise fetch once from the remotes
// (one flight per repository and key, however many callers wait), store atomically, remember misses
// for the negative-cache TTL, and serve the stale copy when every remote fails.
// One ProxyCache per node (its in-flight table and negative cache), owned by the composition root.
import type { Readable } from "node:stream";
import type { Logger } from "../../log.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Digests, Storage, StoredObject } from "../../storage/types.js";
import type { UpstreamClient } from "./contract.js";
import { encodePath, NegativeCache, negativeTtlMs, UpstreamError, type UpstreamResponse } from "./upstream.js";

export interface CacheFill {
  /** Path (encoded, relative to each remote's url, or absolute) to request; default: the encoded key. */
  remotePath?: string;
  /** Re-check the upstream when the cached copy is older than this (metadata); omitted = cached forever. */
  maxAgeMs?: number;
  headers?: Record<string, string>;
  /** Rewrite or validate the body before it is stored. Throw UpstreamError to reject. */
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

/** The change events that invalidate remembered misses. */
export type CacheEvent = { type: "repository.changed"; name: string } | { type: "artifact.stored"; repo: string; path: string };

export class ProxyCache {
  private readonly inflight = new Map<string, Promise<unknown>>();
  readonly misses = new NegativeCache();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly log: Logger,
  ) {}

  /** Drops what a change makes stale: a repository's remembered misses, or the miss of a path now stored. */
  onEvent(e: { type: string; name?: string; repo?: string; path?: string }): void {
    if (e.type === "repository.changed" && e.name) this.misses.deletePrefix(e.name + "\0");
    else if (e.type === "artifact.stored" && e.repo && e.path) this.misses.delete(e.repo + "\0" + e.path);
  }

  /** Concurrent calls with the same key share one execution of `fn`. */
  singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const p = (async () => {
      try {
        return await fn();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  /**
   * The cached object, or one upstream fetch stored into `storage`. null when no remote has the
   * path (remembered for the negative TTL). Throws UpstreamError (502/504) when the upstream fails
   * and nothing is cached.
   */
  async fetch(repo: RepositoryRecord, storage: Storage, key: string, opts: CacheFill = {}): Promise<CachedResult | null> {
    const stat = await storage.stat(key);
    if (stat && (opts.maxAgeMs === undefined || Date.now() - stat.modified.getTime() < opts.maxAgeMs)) return { source: "cache", stat };
    const missKey = repo.name + "\0" + key;
    if (!stat && this.misses.has(missKey)) return null;
    return this.singleFlight(`${repo.name}\0${key}`, async () => {
      let failure: UpstreamError | null = null;
      for (const remote of repo.remotes) {
        if (!remote?.url) continue;
        try {
          const res = await this.upstream.fetch(remote, opts.remotePath ?? encodePath(key), { headers: opts.headers });
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
          await opts.onStored?.({ key, size: put.size, digests: put.digests, upstream: res });
          this.misses.delete(missKey);
          const fresh = (await storage.stat(key)) ?? { key, size: put.size, modified: new Date() };
          return { source: "upstream" as const, stat: fresh, upstream: res };
        } catch (err) {
          failure = err instanceof UpstreamError ? err : new UpstreamError(502, `Upstream fetch failed: ${(err as Error).message}`);
          this.log.warn("upstream fetch failed", { repo: repo.name, key, err: failure.message });
        }
      }
      if (stat) return { source: "stale" as const, stat };
      if (failure) throw failure;
      this.misses.add(missKey, negativeTtlMs(repo, repo.remotes[0]));
      return null;
    });
  }
}
