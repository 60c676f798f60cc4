// The format lifecycle as the management side uses it (artifacts, import, search): describing a
// stored file, pull instructions, and the afterDelete / afterImport / reindex hooks. The kit-level
// rule lives here and nowhere else: afterDelete and afterImport run on hosted repositories only,
// reindex on every repository but groups (a group stores nothing of its own).
import type { AppContext } from "../../context.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Storage } from "../../storage/types.js";
import type { FormatModule } from "../types.js";
import type { ArtifactId, FormatServices } from "./contract.js";
import type { FormatRegistry } from "./registry.js";

/**
 * TRANSITIONAL: formats not yet ported to the kit exist only as FormatModules
 * (src/formats/registry.ts `formatModule`), whose hooks take the legacy AppContext. Delete this,
 * and the `legacy` branches below, once every format is a plugin.
 */
export interface LegacyFormats {
  module(format: string): FormatModule | undefined;
  app: AppContext;
}

export interface FormatHooksDeps {
  registry: FormatRegistry;
  /** What plugin hooks are handed (HookTarget.services). */
  services: FormatServices;
  legacy?: LegacyFormats;
}

export class FormatHooks {
  constructor(private readonly deps: FormatHooksDeps) {}

  private legacyModule(format: string): FormatModule | undefined {
    return this.deps.legacy?.module(format);
  }

  /**
   * The artifact stored at `path` (name, version), null when the format says the file is not one
   * (metadata, checksums), undefined when the format does not describe its files.
   */
  describe(repo: RepositoryRecord, path: string): ArtifactId | null | undefined {
    const plugin = this.deps.registry.plugin(repo.format);
    if (plugin) return plugin.layout.describe(path);
    const mod = this.legacyModule(repo.format);
    return mod?.describeArtifact ? mod.describeArtifact(repo, path) : undefined;
  }

  /** The format's client commands for `path`, or undefined when it has none. */
  pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] | undefined {
    const plugin = this.deps.registry.plugin(repo.format);
    if (plugin) return plugin.pullInstructions?.(repo, path, baseUrl);
    return this.legacyModule(repo.format)?.pullInstructions?.(repo, path, baseUrl);
  }

  /** After the management API deleted a file or folder. */
  async afterDelete(repo: RepositoryRecord, storage: Storage, path: string, folder: boolean): Promise<void> {
    const plugin = this.deps.registry.plugin(repo.format);
    if (plugin) {
      if (repo.kind === "hosted") await plugin.hooks?.afterDelete?.({ repo, storage, services: this.deps.services, path, folder });
      return;
    }
    // Legacy modules decide for themselves which kinds they refresh (as they always did).
    await this.legacyModule(repo.format)?.afterDelete?.({ app: this.deps.legacy!.app, repo, storage, path, folder });
  }

  /** After /.import stored a file. */
  async afterImport(repo: RepositoryRecord, storage: Storage, path: string): Promise<void> {
    const plugin = this.deps.registry.plugin(repo.format);
    if (plugin) {
      if (repo.kind === "hosted") await plugin.hooks?.afterImport?.({ repo, storage, services: this.deps.services, path });
      return;
    }
    await this.legacyModule(repo.format)?.afterImport?.({ app: this.deps.legacy!.app, repo, storage, path });
  }

  /** Search reindex of one repository: the format rebuilds its own indexes from storage. */
  async reindex(repo: RepositoryRecord, storage: Storage): Promise<void> {
    if (repo.kind === "group") return;
    const plugin = this.deps.registry.plugin(repo.format);
    if (plugin) {
      await plugin.hooks?.reindex?.({ repo, storage, services: this.deps.services });
      return;
    }
    await this.legacyModule(repo.format)?.reindex?.({ app: this.deps.legacy!.app, repo, storage });
  }
}
