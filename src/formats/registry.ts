// Format → module map for the repository port. Each format engineer adds ONE import and
// ONE entry below; hosted, proxy and group types of a format share the module.
import type { RepositoryFormat } from "../repositories/types.js";
import type { FormatModule } from "./types.js";
// --- format imports (one line each) ---
import { mavenFormat, gradleFormat } from "./maven/index.js";
import { fileFormat } from "./file/index.js";
import { npmFormat } from "./npm/index.js";
import { pypiFormat } from "./pypi/index.js";
import { dockerModule } from "./docker/index.js";

const MODULES: Partial<Record<RepositoryFormat, FormatModule>> = {
  // --- format entries (one line each) ---
  maven: mavenFormat,
  gradle: gradleFormat,
  file: fileFormat,
  npm: npmFormat,
  pypi: pypiFormat,
  docker: dockerModule,
};

export function formatModule(format: RepositoryFormat): FormatModule | undefined {
  return MODULES[format];
}

export function registeredFormats(): RepositoryFormat[] {
  return Object.keys(MODULES) as RepositoryFormat[];
}
