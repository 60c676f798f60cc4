// A docker-proxy's pull source: pulls through to the upstream registry and caches by digest,
// serves the cache when the upstream is down, and applies cooldown to tags.
import { PassThrough, type Readable } from "node:stream";
import type { RepositoryRecord } from "../../repositories/types.js";
import { metadataTtlMs, UpstreamError } from "../kit/upstream.js";
import { parseDigest } from "./digest.js";
import type { DockerEnv } from "./env.js";
import { OciError, ociError } from "./errors.js";
import { configCreated, type Descriptor } from "./manifest.js";
import { readAll, type BlobStream, type DockerStore, type PullSource, type StoredManifest } from "./store.js";
import type { UpstreamRegistry } from "./upstream.js";

/** An upstream registry that failed (and no cached copy): 502 or 504 in the OCI error format. */
function unavailable(err: UpstreamError): OciError {
  return ociError("UNAVAILABLE", `Upstream registry: ${err.message}`, undefined, err.status);
}

export class ProxySource implements PullSource {
  private upstream: UpstreamRegistry | null;
  constructor(
    readonly repo: RepositoryRecord,
    readonly store: DockerStore,
    private env: DockerEnv,
  ) {
    this.upstream = env.upstreamFor(repo);
  }

  async manifest(image: string, reference: string): Promise<StoredManifest | null> {
    const isDigest = parseDigest(reference) !== null;
    if (isDigest) {
      const cached = await this.store.getManifest(image, reference);
      if (cached) return cached;
    }
    if (!this.upstream) return this.store.getManifest(image, reference);
    if (!isDigest) {
      // A tag fetched within metadata_ttl is served from the cache without asking the upstream.
      const modified = await this.store.tagModified(image, reference);
      if (modified && Date.now() - modified.getTime() < metadataTtlMs(this.repo)) {
        const cached = await this.store.getManifest(image, reference);
        if (cached) {
          await this.denyIfBlocked(image, reference);
          return cached;
        }
      }
    }
    let got;
    try {
      got = await this.upstream.manifest(image, reference);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      const cached = await this.store.getManifest(image, reference);
      if (!cached) throw unavailable(err);
      this.env.services.log.warn("docker upstream unavailable, serving cache", { repo: this.repo.name, err: err.message });
      if (!isDigest) await this.denyIfBlocked(image, reference);
      return cached;
    }
    if (!got) return null;
    const { digest, parsed } = await this.store.putManifest(image, reference, got.body, got.mediaType, { verifyBlobs: false });
    if (!isDigest) {
      let releasedAt = got.lastModified && !Number.isNaN(got.lastModified.getTime()) ? got.lastModified : undefined;
      if (parsed.config) {
        const config = await this.blob(image, parsed.config.digest).catch(() => null);
        if (config) releasedAt = configCreated(await readAll(config.stream, 4 << 20)) ?? releasedAt;
      }
      const size = got.body.length + parsed.blobs.reduce((n, b) => n + b.size, 0) + parsed.manifests.reduce((n, m) => n + m.size, 0);
      await this.env.services.artifacts.record(this.repo, {
        path: `${image}/_manifests/tags/${reference}`,
        name: image,
        version: reference,
        size,
        owner: "",
        checksums: { sha256: digest.replace(/^sha256:/, "") },
        releasedAt: releasedAt ?? null,
      });
      // Cooldown: a tag whose release date (config `created`, else upstream Last-Modified) is
      // younger than the minimum age is refused (and the block recorded). Pulls by digest are not checked.
      const d = await this.env.services.cooldown.evaluate(this.repo, image, reference, releasedAt ?? null);
      if (!d.allowed) throw ociError("DENIED", d.message, { name: image, reference });
    }
    return { body: got.body, mediaType: parsed.mediaType, digest };
  }

  /** Cached tag: refused while an active cooldown block exists for it. */
  private async denyIfBlocked(image: string, tag: string): Promise<void> {
    const d = await this.env.services.cooldown.isBlocked(this.repo, image, tag);
    if (!d.allowed) throw ociError("DENIED", d.message, { name: image, reference: tag });
  }

  async blob(image: string, digest: string, range?: { start: number; end?: number }): Promise<BlobStream | null> {
    const cached = await this.store.getBlob(digest, range);
    if (cached || !this.upstream) return cached;
    const key = `${this.repo.name}|${digest}`;
    const running = this.env.downloads.get(key);
    if (running || range) {
      // Someone else is filling the cache (or a range was asked for): wait for the cache, serve from it.
      const ok = await (running ?? this.download(key, image, digest, false).then((r) => r.done));
      return ok ? this.store.getBlob(digest, range) : null;
    }
    const got = await this.download(key, image, digest, true);
    return got.stream ? { stream: got.stream, size: got.size! } : null;
  }

  /**
   * Fetches a blob from the upstream into the cache (digest-verified, atomic). With `tee`, the
   * same bytes also stream to the caller as they arrive; a caller hanging up does not stop the
   * cache fill. `done` resolves to whether the blob is now cached.
   */
  private async download(key: string, image: string, digest: string, tee: boolean): Promise<{ done: Promise<boolean>; stream?: Readable; size?: number }> {
    let up: { stream: Readable; size?: number } | null;
    try {
      up = await this.upstream!.blob(image, digest);
    } catch (err) {
      throw err instanceof UpstreamError ? unavailable(err) : err;
    }
    if (!up) return { done: Promise.resolve(false) };
    const source = up.stream;
    const toStore = new PassThrough();
    source.pipe(toStore);
    let toClient: PassThrough | undefined;
    if (tee && up.size !== undefined) {
      toClient = new PassThrough();
      const client = toClient;
      source.pipe(client);
      client.on("close", () => source.unpipe(client));
    }
    source.on("error", (err) => {
      toStore.destroy(err);
      toClient?.destroy(err);
    });
    const downloads = this.env.downloads;
    const done = this.store
      .putBlob(digest, toStore)
      .then(() => true)
      .catch((err) => {
        this.env.services.log.warn("docker proxy: caching a blob failed", { repo: this.repo.name, digest, err: String(err) });
        toClient?.destroy(err as Error);
        return false;
      })
      .finally(() => downloads.delete(key));
    downloads.set(key, done);
    if (toClient) return { done, stream: toClient, size: up.size };
    // Unknown length: fill the cache first, then serve it with a Content-Length.
    if (!(await done)) return { done };
    const cached = await this.store.getBlob(digest);
    return cached ? { done, stream: cached.stream, size: cached.size } : { done };
  }

  async blobSize(image: string, digest: string): Promise<number | null> {
    const st = await this.store.statBlob(digest);
    if (st) return st.size;
    if (!this.upstream) return null;
    return this.upstream.blobSize(image, digest).catch((err) => {
      throw err instanceof UpstreamError ? unavailable(err) : err;
    });
  }

  async tags(image: string): Promise<string[] | null> {
    let tags: string[] | null = null;
    let fetched = false;
    if (this.upstream) {
      try {
        tags = await this.upstream.tags(image);
        fetched = true;
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
      }
    }
    if (!fetched) tags = await this.store.knownTags(image);
    // Cooldown: tags with an active block are not listed (only tags already evaluated, i.e.
    // fetched by tag at least once, are known to be blocked).
    if (tags && tags.length) {
      const blocked = new Set((await this.env.services.cooldown.activeBlocks([this.repo.name], image)).map((b) => b.version));
      if (blocked.size) tags = tags.filter((t) => !blocked.has(t));
    }
    return tags;
  }

  async referrers(image: string, digest: string): Promise<Descriptor[]> {
    if (this.upstream) {
      const got = await this.upstream.referrers(image, digest).catch(() => null);
      if (got) return got as Descriptor[];
    }
    return this.store.referrers(image, digest);
  }
}
