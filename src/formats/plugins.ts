// The formats this build serves: one line per format. Repository types, the repository port's
// routes, search, cooldown and the dashboard all read this list (through the FormatRegistry).
import type { FormatPlugin } from "./kit/contract.js";
import { filePlugin } from "./file/index.js";
import { pypiPlugin } from "./pypi/index.js";
import { createMavenPlugin } from "./maven/index.js";

/** What plugins with server-side endpoints of their own (logins, search indexes) are given. */
export interface PluginDeps {}

export function formatPlugins(_deps: PluginDeps): FormatPlugin[] {
  return [
    filePlugin,
    pypiPlugin,
    createMavenPlugin(),
  ];
}
