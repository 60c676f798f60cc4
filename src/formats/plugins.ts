// The formats this build serves: one line per format. Repository types, the repository port's
// routes, search, cooldown and the dashboard all read this list (through the FormatRegistry).
import type { FormatPlugin } from "./kit/contract.js";
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

export function formatPlugins(deps: PluginDeps): FormatPlugin[] {
  return [
    filePlugin,
    pypiPlugin,
    createMavenPlugin(),
    createNpmPlugin(deps),
    createDockerPlugin(deps),
  ];
}
