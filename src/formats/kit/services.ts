// Builds the narrow services format plugins use from the node's own services.
import path from "node:path";
import { isDatabaseUnavailable } from "../../db/errors.js";
import type { Logger } from "../../log.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { ArtifactEntry, ArtifactIndex, CooldownGate, FormatServices, UpstreamClient } from "./contract.js";

interface ArtifactStore {
  record(input: ArtifactEntry & { repo: RepositoryRecord }): Promise<void>;
  remove(repo: string, path: string): Promise<boolean>;
  find(repo: string, path: string): Promise<{ size: bigint | number; checksums: unknown } | null>;
}

/** The artifacts index as formats use it: recording never fails the client's request. */
export function artifactIndex(store: ArtifactStore, log: Logger): ArtifactIndex {
  return {
    async record(repo, entry) {
      try {
        await store.record({ repo, ...entry });
      } catch (err) {
        // An outage is the node's state, not a bad index row: the write answers 503 and the client retries.
        if (isDatabaseUnavailable(err)) throw err;
        log.warn("artifact index update failed", { repo: repo.name, path: entry.path, err: String(err) });
      }
    },
    async forget(repo, key) {
      try {
        await store.remove(repo.name, key);
      } catch (err) {
        log.warn("artifact index delete failed", { repo: repo.name, path: key, err: String(err) });
      }
    },
    find: (repo, key) => store.find(repo, key),
  };
}

export function formatServices(deps: {
  log: Logger;
  artifacts: ArtifactStore;
  cooldown: CooldownGate;
  upstream: UpstreamClient;
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  dataDir: string;
}): FormatServices {
  return {
    log: deps.log,
    artifacts: artifactIndex(deps.artifacts, deps.log),
    cooldown: deps.cooldown,
    upstream: deps.upstream,
    withLock: (key, fn) => deps.withLock(key, fn),
    tmpDir: path.join(deps.dataDir, "tmp"),
  };
}
