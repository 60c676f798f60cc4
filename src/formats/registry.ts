// Format → module map for the repository port. Each format engineer adds ONE import and
// ONE entry below; hosted, proxy and group types of a format share the module.
// (Transitional: formats ported to the kit are served by src/formats/plugins.ts; this map shows
// them to the management API through `pluginView` until it reads the FormatRegistry itself.)
import type { RepositoryFormat } from "../repositories/types.js";
import type { FormatModule } from "./types.js";
import type { FormatPlugin } from "./kit/contract.js";
// --- format imports (one line each) ---
import { createMavenPlugin } from "./maven/index.js";
import { filePlugin } from "./file/index.js";
import { pypiPlugin } from "./pypi/index.js";
import { dockerFormat } from "./docker/index.js";

function pluginView(plugin: FormatPlugin): FormatModule {
  const hooks = plugin.hooks ?? {};
  return {
    format: plugin.format as RepositoryFormat,
    handle: () => Promise.reject(new Error(`${plugin.format} is served by the format kit`)),
    pullInstructions: plugin.pullInstructions,
    describeArtifact: (_repo, path) => plugin.layout.describe(path),
    afterDelete: hooks.afterDelete && (async (i) => { if (i.repo.kind === "hosted") await hooks.afterDelete!({ repo: i.repo, storage: i.storage, services: i.app.kit.services, path: i.path, folder: i.folder }); }),
    afterImport: hooks.afterImport && (async (i) => { if (i.repo.kind === "hosted") await hooks.afterImport!({ repo: i.repo, storage: i.storage, services: i.app.kit.services, path: i.path }); }),
    reindex: hooks.reindex && (async (i) => { if (i.repo.kind !== "group") await hooks.reindex!({ repo: i.repo, storage: i.storage, services: i.app.kit.services }); }),
  };
}

const MODULES: Partial<Record<RepositoryFormat, FormatModule>> = {
  // --- format entries (one line each) ---
  maven: pluginView(createMavenPlugin()),
  gradle: { ...pluginView(createMavenPlugin()), format: "gradle" },
  file: pluginView(filePlugin),
  pypi: pluginView(pypiPlugin),
  docker: pluginView(dockerFormat),
};

export function formatModule(format: RepositoryFormat): FormatModule | undefined {
  return MODULES[format];
}

export function registeredFormats(): RepositoryFormat[] {
  return Object.keys(MODULES) as RepositoryFormat[];
}
