// What the docker format is given (repositories, storage, the kit's services) and the state it
// keeps per node: upstream registry clients with their token caches, the blob downloads filling
// proxy caches, and when each repository's abandoned uploads were last swept.
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import type { FormatServices } from "../kit/contract.js";
import { UpstreamRegistry } from "./upstream.js";
import type { DockerStore } from "./store.js";

export interface DockerDeps {
  repositories: {
    find(name: string): Promise<RepositoryRecord | null>;
    all(): Promise<RepositoryRecord[]>;
  };
  storageFor(repo: RepositoryRecord): Promise<Storage>;
  /** The kit's services: artifacts index, upstream client, cooldown, log. */
  services(): FormatServices;
}

/** Abandoned upload sessions are swept at most once an hour per repository and node, after a day. */
const UPLOAD_MAX_AGE_MS = 24 * 3600_000;
const SWEEP_EVERY_MS = 3600_000;

export class DockerEnv {
  private readonly upstreams = new Map<string, UpstreamRegistry>();
  /** Blob downloads filling a proxy cache on this node, by repository and digest. */
  readonly downloads = new Map<string, Promise<boolean>>();
  private readonly sweeps = new Map<string, number>();

  constructor(private readonly deps: DockerDeps) {}

  get services(): FormatServices {
    return this.deps.services();
  }

  findRepository(name: string): Promise<RepositoryRecord | null> {
    return this.deps.repositories.find(name);
  }

  allRepositories(): Promise<RepositoryRecord[]> {
    return this.deps.repositories.all();
  }

  storageFor(repo: RepositoryRecord): Promise<Storage> {
    return this.deps.storageFor(repo);
  }

  /** The client of a proxy's (first) remote registry; null when it has none. */
  upstreamFor(repo: RepositoryRecord): UpstreamRegistry | null {
    const remote = repo.remotes[0];
    if (!remote?.url) return null;
    const key = `${repo.name}|${JSON.stringify(remote)}`;
    let u = this.upstreams.get(key);
    if (!u) {
      u = new UpstreamRegistry(remote, (r, path, req) => this.services.upstream.fetch(r, path, req));
      this.upstreams.set(key, u);
    }
    return u;
  }

  /** Drops a repository's abandoned upload sessions, at most once an hour (in the background). */
  sweepUploads(repo: string, store: DockerStore): void {
    const now = Date.now();
    if (now - (this.sweeps.get(repo) ?? 0) < SWEEP_EVERY_MS) return;
    this.sweeps.set(repo, now);
    store.sweepUploads(UPLOAD_MAX_AGE_MS).catch(() => undefined);
  }
}
