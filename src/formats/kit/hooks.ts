// The format lifecycle as the management side uses it (artifacts, import, search): describing a
// stored file, pull instructions, and the afterDelete / afterImport / reindex hooks. The kit-level
// rule lives here and nowhere else: afterDelete and afterImport run on hosted repositories only,
// reindex on every repository but groups (a group stores nothing of its own).
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import type { ArtifactId, FormatServices } from "./contract.js";
import type { FormatRegistry } from "./registry.js";

export interface FormatHooksDeps {
  registry: FormatRegistry;
  /** What plugin hooks are handed (HookTarget.services). */
  services: FormatServices;
}

export class FormatHooks {
  constructor(private readonly deps: FormatHooksDeps) {}

  /**
   * The artifact stored at `path` (name, version), null when the format says the file is not one
   * (metadata, checksums), undefined when no registered plugin serves the repository's format.
   */
  describe(repo: RepositoryRecord, path: string): ArtifactId | null | undefined {
    return this.deps.registry.plugin(repo.format)?.layout.describe(path);
  }

  /** The format's client commands for `path`, or undefined when it has none. */
  pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] | undefined {
    return this.deps.registry.plugin(repo.format)?.pullInstructions?.(repo, path, baseUrl);
  }

  /** After the management API deleted a file or folder. */
  async afterDelete(repo: RepositoryRecord, storage: Storage, path: string, folder: boolean): Promise<void> {
    if (repo.kind !== "hosted") return;
    await this.deps.registry.plugin(repo.format)?.hooks?.afterDelete?.({ repo, storage, services: this.deps.services, path, folder });
  }

  /** After /.import stored a file. */
  async afterImport(repo: RepositoryRecord, storage: Storage, path: string): Promise<void> {
    if (repo.kind !== "hosted") return;
    await this.deps.registry.plugin(repo.format)?.hooks?.afterImport?.({ repo, storage, services: this.deps.services, path });
  }

  /** Search reindex of one repository: the format rebuilds its own indexes from storage. */
  async reindex(repo: RepositoryRecord, storage: Storage): Promise<void> {
    if (repo.kind === "group") return;
    await this.deps.registry.plugin(repo.format)?.hooks?.reindex?.({ repo, storage, services: this.deps.services });
  }
}
