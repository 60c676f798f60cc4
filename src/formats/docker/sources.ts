// Where pulls are served from: a hosted store, a proxy (cache + upstream) or a group of members.
import { PassThrough, type Readable } from "node:stream";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import { parseDigest } from "./digest.js";
import { configCreated, parseManifest, type Descriptor } from "./manifest.js";
import { DockerStore, readAll, type BlobStream, type StoredManifest } from "./store.js";
import { UpstreamRegistry, type UpstreamFetch } from "./upstream.js";
import { metadataTtlMs, UpstreamError } from "../proxy.js";
import { OciError, ociError } from "./errors.js";

/** The slice of the cooldown service docker proxies use (package = image name, version = tag). */
export interface DockerCooldown {
  evaluate(repo: { name: string; type: string }, packageName: string, version: string, releasedAt: Date | null | undefined): Promise<{ allowed: true } | { allowed: false; message: string }>;
  isBlocked(repo: { name: string; type: string }, packageName: string, version: string): Promise<{ allowed: true } | { allowed: false; message: string }>;
  activeBlocks(repoNames: string[], packageName: string): Promise<{ version: string }[]>;
}

/** What the docker module needs from the rest of the system. */
export interface DockerEnv {
  findRepository(name: string): Promise<RepositoryRecord | null>;
  storageFor(repo: RepositoryRecord): Promise<Storage>;
  allRepositories(): Promise<RepositoryRecord[]>;
  /** Records a stored image version in the artifacts index (best effort). */
  recordArtifact(a: ArtifactRecord): Promise<void>;
  removeArtifact(repo: RepositoryRecord, path: string): Promise<void>;
  warn(msg: string, meta?: Record<string, unknown>): void;
  /** Requests to upstream registries (the proxies' client: http_client settings, credential rules). */
  fetchUpstream: UpstreamFetch;
  /** Cooldown for proxies (absent: nothing is ever blocked). */
  cooldown?: DockerCooldown;
}

export interface ArtifactRecord {
  repo: RepositoryRecord;
  path: string;
  name: string;
  version: string;
  size: number;
  owner: string;
  checksums: Record<string, string>;
  releasedAt?: Date;
}

export interface PullSource {
  manifest(image: string, reference: string): Promise<StoredManifest | null>;
  blob(image: string, digest: string, range?: { start: number; end?: number }): Promise<BlobStream | null>;
  blobSize(image: string, digest: string): Promise<number | null>;
  /** null when the image is unknown to this source. */
  tags(image: string): Promise<string[] | null>;
  referrers(image: string, digest: string): Promise<Descriptor[]>;
}

export class HostedSource implements PullSource {
  constructor(readonly store: DockerStore) {}
  manifest(image: string, reference: string) {
    return this.store.getManifest(image, reference);
  }
  blob(_image: string, digest: string, range?: { start: number; end?: number }) {
    return this.store.getBlob(digest, range);
  }
  async blobSize(_image: string, digest: string) {
    return (await this.store.statBlob(digest))?.size ?? null;
  }
  async tags(image: string) {
    const tags = await this.store.tags(image);
    if (tags.length === 0 && !(await this.store.imageExists(image))) return null;
    return tags;
  }
  referrers(image: string, digest: string) {
    return this.store.referrers(image, digest);
  }
}

/** Upstream clients (with their token caches) per docker environment, i.e. per app. */
const upstreams = new WeakMap<DockerEnv, Map<string, UpstreamRegistry>>();
/** Blob downloads filling a proxy cache on this node, by repository and digest. */
const downloads = new Map<string, Promise<boolean>>();
function upstreamFor(repo: RepositoryRecord, env: DockerEnv): UpstreamRegistry | null {
  const remote = repo.remotes[0];
  if (!remote?.url) return null;
  const key = `${repo.name}|${JSON.stringify(remote)}`;
  let mine = upstreams.get(env);
  if (!mine) upstreams.set(env, (mine = new Map()));
  let u = mine.get(key);
  if (!u) {
    u = new UpstreamRegistry(remote, env.fetchUpstream);
    mine.set(key, u);
  }
  return u;
}

/** Pulls through to the upstream registry and caches by digest; serves the cache when the upstream is down. */
export class ProxySource implements PullSource {
  private upstream: UpstreamRegistry | null;
  constructor(
    readonly repo: RepositoryRecord,
    readonly store: DockerStore,
    private env: DockerEnv,
  ) {
    this.upstream = upstreamFor(repo, env);
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
      this.env.warn("docker upstream unavailable, serving cache", { repo: this.repo.name, err: err.message });
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
      await this.env.recordArtifact({
        repo: this.repo,
        path: `${image}/_manifests/tags/${reference}`,
        name: image,
        version: reference,
        size,
        owner: "",
        checksums: { sha256: digest.replace(/^sha256:/, "") },
        releasedAt,
      });
      // Cooldown: a tag whose release date (config `created`, else upstream Last-Modified) is
      // younger than the minimum age is refused (and the block recorded). Pulls by digest are not checked.
      if (this.env.cooldown) {
        const d = await this.env.cooldown.evaluate(this.repo, image, reference, releasedAt ?? null);
        if (!d.allowed) throw ociError("DENIED", d.message, { name: image, reference });
      }
    }
    return { body: got.body, mediaType: parsed.mediaType, digest };
  }

  /** Cached tag: refused while an active cooldown block exists for it. */
  private async denyIfBlocked(image: string, tag: string): Promise<void> {
    if (!this.env.cooldown) return;
    const d = await this.env.cooldown.isBlocked(this.repo, image, tag);
    if (!d.allowed) throw ociError("DENIED", d.message, { name: image, reference: tag });
  }

  async blob(image: string, digest: string, range?: { start: number; end?: number }): Promise<BlobStream | null> {
    const cached = await this.store.getBlob(digest, range);
    if (cached || !this.upstream) return cached;
    const key = `${this.repo.name}|${digest}`;
    const running = downloads.get(key);
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
    const done = this.store
      .putBlob(digest, toStore)
      .then(() => true)
      .catch((err) => {
        this.env.warn("docker proxy: caching a blob failed", { repo: this.repo.name, digest, err: String(err) });
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
    if (!fetched) tags = await new HostedSource(this.store).tags(image);
    // Cooldown: tags with an active block are not listed (only tags already evaluated, i.e.
    // fetched by tag at least once, are known to be blocked).
    if (tags && tags.length && this.env.cooldown) {
      const blocked = new Set((await this.env.cooldown.activeBlocks([this.repo.name], image)).map((b) => b.version));
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

export class GroupSource implements PullSource {
  constructor(readonly members: PullSource[]) {}
  /**
   * The first member's answer, in order. A member whose upstream is unavailable does not hide
   * the later ones; when no member has it and one failed, that failure is the answer (502/504).
   */
  private async first<T>(ask: (m: PullSource) => Promise<T | null>): Promise<T | null> {
    let failure: OciError | null = null;
    for (const m of this.members) {
      try {
        const got = await ask(m);
        if (got !== null) return got;
      } catch (err) {
        if (!(err instanceof OciError) || err.code !== "UNAVAILABLE") throw err;
        failure ??= err;
      }
    }
    if (failure) throw failure;
    return null;
  }
  manifest(image: string, reference: string) {
    return this.first((m) => m.manifest(image, reference));
  }
  blob(image: string, digest: string, range?: { start: number; end?: number }) {
    return this.first((m) => m.blob(image, digest, range));
  }
  blobSize(image: string, digest: string) {
    return this.first((m) => m.blobSize(image, digest));
  }
  async tags(image: string) {
    let out: string[] | null = null;
    for (const m of this.members) {
      const got = await m.tags(image);
      if (got) out = [...(out ?? []), ...got];
    }
    return out ? [...new Set(out)] : null;
  }
  async referrers(image: string, digest: string) {
    const seen = new Map<string, Descriptor>();
    for (const m of this.members) for (const d of await m.referrers(image, digest)) if (!seen.has(d.digest)) seen.set(d.digest, d);
    return [...seen.values()];
  }
}

/** Resolves a repository to its pull source and, when it can take pushes, the hosted store. */
export async function resolveRepository(
  env: DockerEnv,
  repo: RepositoryRecord,
  seen = new Set<string>(),
): Promise<{ source: PullSource; hosted: DockerStore | null; hostedRepo: RepositoryRecord | null }> {
  seen.add(repo.name);
  if (repo.kind === "hosted") {
    const store = new DockerStore(await env.storageFor(repo));
    return { source: new HostedSource(store), hosted: store, hostedRepo: repo };
  }
  if (repo.kind === "proxy") {
    const store = new DockerStore(await env.storageFor(repo));
    return { source: new ProxySource(repo, store, env), hosted: null, hostedRepo: null };
  }
  const members: PullSource[] = [];
  let hosted: DockerStore | null = null;
  let hostedRepo: RepositoryRecord | null = null;
  for (const name of repo.members) {
    if (seen.has(name)) continue;
    const member = await env.findRepository(name);
    if (!member || member.format !== "docker") continue;
    const r = await resolveRepository(env, member, seen);
    members.push(r.source);
    if (!hosted && r.hosted) {
      hosted = r.hosted;
      hostedRepo = r.hostedRepo;
    }
  }
  return { source: new GroupSource(members), hosted, hostedRepo };
}

export { parseManifest };

/** An upstream registry that failed (and no cached copy): 502 or 504 in the OCI error format. */
function unavailable(err: UpstreamError): OciError {
  return ociError("UNAVAILABLE", `Upstream registry: ${err.message}`, undefined, err.status);
}
