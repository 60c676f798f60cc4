// Format → module map for the repository port. Each format engineer adds ONE import and
// ONE entry below; hosted, proxy and group types of a format share the module.
import type { RepositoryFormat } from "../repositories/types.js";
import type { FormatModule } from "./types.js";
// --- format imports (one line each) ---

const MODULES: Partial<Record<RepositoryFormat, FormatModule>> = {
  // --- format entries (one line each) ---
};

export function formatModule(format: RepositoryFormat): FormatModule | undefined {
  return MODULES[format];
}

export function registeredFormats(): RepositoryFormat[] {
  return Object.keys(MODULES) as RepositoryFormat[];
}
