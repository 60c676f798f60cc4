// Where pulls are served from and pushes go: one part per repository kind (picked by the kit's
// `forKind`): a hosted store, a proxy (cache + upstream, proxy-source.ts), or a group of members.
import type { RepositoryKind, RepositoryRecord } from "../../repositories/types.js";
import { forKind } from "../kit/kinds.js";
import type { DockerEnv } from "./env.js";
import { ociError, OciError } from "./errors.js";
import type { Descriptor } from "./manifest.js";
import { ProxySource } from "./proxy-source.js";
import { DockerStore, type PullSource } from "./store.js";

export type { PullSource };

/** Where a push lands: a hosted repository's store. */
export interface PushTarget {
  store: DockerStore;
  repo: RepositoryRecord;
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
  tags(image: string) {
    return this.store.knownTags(image);
  }
  referrers(image: string, digest: string) {
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

/** A repository's pull source and, when it takes pushes, where they land. */
export interface Resolved {
  source: PullSource;
  push: PushTarget | null;
}

type Resolver = (env: DockerEnv, repo: RepositoryRecord, seen: Set<string>) => Promise<Resolved>;

const RESOLVERS: Record<RepositoryKind, Resolver> = {
  async hosted(env, repo) {
    const store = new DockerStore(await env.storageFor(repo));
    return { source: new HostedSource(store), push: { store, repo } };
  },
  async proxy(env, repo) {
    return { source: new ProxySource(repo, new DockerStore(await env.storageFor(repo)), env), push: null };
  },
  /** Members in order (docker ones, each once); pushes go to the first hosted one, nested groups included. */
  async group(env, repo, seen) {
    const members: PullSource[] = [];
    let push: PushTarget | null = null;
    for (const name of repo.members) {
      if (seen.has(name)) continue;
      const member = await env.findRepository(name);
      if (!member || member.format !== "docker") continue;
      const r = await resolveRepository(env, member, seen);
      members.push(r.source);
      push ??= r.push;
    }
    return { source: new GroupSource(members), push };
  },
};

/** Resolves a repository to its pull source and, when it can take pushes, the hosted store. */
export function resolveRepository(env: DockerEnv, repo: RepositoryRecord, seen = new Set<string>()): Promise<Resolved> {
  seen.add(repo.name);
  return forKind(repo, RESOLVERS)(env, repo, seen);
}

/** Which kinds take pushes: hosted ones, and groups through their first hosted member. */
const PUSHES: Record<RepositoryKind, (env: DockerEnv, repo: RepositoryRecord) => Promise<PushTarget>> = {
  hosted: async (env, repo) => (await resolveRepository(env, repo)).push!,
  async proxy(_env, repo) {
    throw ociError("UNSUPPORTED", `'${repo.name}' is a proxy repository and takes no pushes`);
  },
  async group(env, repo) {
    const { push } = await resolveRepository(env, repo);
    if (!push) throw ociError("UNSUPPORTED", `Group '${repo.name}' has no hosted member to push to`);
    return push;
  },
};

/** The hosted store a push to `repo` lands in (405 UNSUPPORTED when it takes none). */
export function pushTarget(env: DockerEnv, repo: RepositoryRecord): Promise<PushTarget> {
  return forKind(repo, PUSHES)(env, repo);
}

/** Whether the catalog lists a repository's images (a group's are its members'). */
export const LISTED_IN_CATALOG: Record<RepositoryKind, boolean> = { hosted: true, proxy: true, group: false };
