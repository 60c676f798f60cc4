// TRANSITIONAL: the repository types of the registered plugins plus those of the formats still
// served by the FormatModule map (src/formats/registry.ts), so repositories of a format being
// ported stay creatable meanwhile. Once every format is a FormatPlugin the composition root
// passes the FormatRegistry itself as RepositoryTypes; delete this file with registry.ts.
import type { RepositoryKind, RepositoryTypes } from "../repositories/types.js";
import { parseRepositoryType } from "../repositories/types.js";
import { formatConfigs } from "./configs.js";
import type { FormatRegistry } from "./kit/registry.js";
import { registeredFormats } from "./registry.js";

const SUFFIXES: Record<RepositoryKind, string> = { hosted: "", proxy: "-proxy", group: "-group" };

export function repositoryTypes(registry: FormatRegistry): RepositoryTypes {
  const legacy = registeredFormats().filter((f) => !registry.plugin(f));
  const legacyTypes = legacy.flatMap((f) => (["hosted", "proxy", "group"] as const).map((k) => f + SUFFIXES[k]));
  return {
    types: () => [...registry.types(), ...legacyTypes],
    parseType(type) {
      const parsed = registry.parseType(type);
      if (parsed) return parsed;
      const split = parseRepositoryType(type);
      return split && legacy.includes(split.format) ? split : null;
    },
    plugin(format) {
      const plugin = registry.plugin(format);
      const config = plugin?.config ?? formatConfigs[format];
      if (plugin) return { ...plugin, config };
      return legacy.includes(format) ? { config } : undefined;
    },
  };
}
