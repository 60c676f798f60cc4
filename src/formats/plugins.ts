// The formats this build serves: one line per format. Repository types, the repository port's
// routes, search, cooldown and the dashboard all read this list (through the FormatRegistry); the
// printed GraphQL schema reads its config schemas before any plugin is built (formatConfigs).
import type { FormatPlugin } from "./kit/contract.js";
import type { ConfigSchema } from "./kit/config.js";
import { dockerConfig } from "./docker/config.js";
import { fileConfig } from "./file/config.js";
import { mavenConfig } from "./maven/config.js";
import { npmConfig } from "./npm/config.js";
import { pypiConfig } from "./pypi/config.js";
import { filePlugin } from "./file/index.js";
import { pypiPlugin } from "./pypi/index.js";
import { createMavenPlugin } from "./maven/index.js";
import { createNpmPlugin, type NpmPluginDeps } from "./npm/index.js";
import { createDockerPlugin, type DockerPluginDeps } from "./docker/index.js";

/** What plugins with server-side endpoints of their own (logins, search indexes) are given. */
export interface PluginDeps {
  /** npm login / logout: the auth service. */
  auth: NpmPluginDeps["auth"] & DockerPluginDeps["auth"];
  /** Raw SQL for search indexes of their own (npm). */
  sql: NpmPluginDeps["sql"];
  /** Repositories by name and all of them (OCI catalog and groups), and their storage. */
  repositories: DockerPluginDeps["repositories"];
  storageFor: DockerPluginDeps["storageFor"];
  /** The kit's services (artifacts index, upstream client, cooldown), for endpoints outside /<repo>/ (OCI /v2). */
  services: DockerPluginDeps["services"];
}

interface FormatEntry {
  /** The format names the plugin serves (its `format` and `aliases`). */
  formats: string[];
  /** Its repository config schema (the plugin's `config`). */
  config: ConfigSchema;
  create(deps: PluginDeps): FormatPlugin;
}

const FORMATS: FormatEntry[] = [
  { formats: ["file"], config: fileConfig, create: () => filePlugin },
  { formats: ["pypi"], config: pypiConfig, create: () => pypiPlugin },
  { formats: ["maven", "gradle"], config: mavenConfig, create: () => createMavenPlugin() },
  { formats: ["npm"], config: npmConfig, create: (deps) => createNpmPlugin(deps) },
  { formats: ["docker"], config: dockerConfig, create: (deps) => createDockerPlugin(deps) },
];

/** The config schema of every built format, by format name (aliases included). */
export const formatConfigs: Readonly<Record<string, ConfigSchema>> = Object.fromEntries(FORMATS.flatMap((e) => e.formats.map((f) => [f, e.config])));

/** Builds every plugin; a plugin whose names or config differ from its line here is a programming error. */
export function formatPlugins(deps: PluginDeps): FormatPlugin[] {
  return FORMATS.map((entry) => {
    const plugin = entry.create(deps);
    const names = [plugin.format, ...(plugin.aliases ?? [])];
    if (names.join() !== entry.formats.join() || plugin.config !== entry.config)
      throw new Error(`Format plugin '${plugin.format}' does not match its entry in plugins.ts`);
    return plugin;
  });
}
