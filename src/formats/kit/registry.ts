// The registered format plugins: the one list repository types, the dispatcher, search, cooldown
// and the dashboard read. Built by the composition root from src/formats/plugins.ts.
import type { RepositoryKind } from "../../repositories/types.js";
import type { FormatPlugin } from "./contract.js";
import { RouteTable } from "./routes.js";

const KINDS: RepositoryKind[] = ["hosted", "proxy", "group"];
const SUFFIX: Record<RepositoryKind, string> = { hosted: "", proxy: "-proxy", group: "-group" };

export class FormatRegistry {
  private readonly byFormat = new Map<string, FormatPlugin>();
  private readonly tables = new Map<FormatPlugin, RouteTable>();

  constructor(plugins: FormatPlugin[]) {
    for (const plugin of plugins) {
      for (const format of [plugin.format, ...(plugin.aliases ?? [])]) {
        if (this.byFormat.has(format)) throw new Error(`Format '${format}' is registered twice`);
        this.byFormat.set(format, plugin);
      }
      this.tables.set(plugin, new RouteTable(plugin.routes));
    }
  }

  /** The plugin serving `format`, or undefined when no plugin is registered for it. */
  plugin(format: string): FormatPlugin | undefined {
    return this.byFormat.get(format);
  }

  routes(plugin: FormatPlugin): RouteTable {
    return this.tables.get(plugin)!;
  }

  /** Every registered format name (aliases included), in registration order. */
  formats(): string[] {
    return [...this.byFormat.keys()];
  }

  /** Every repository type the registered plugins serve: `<format>`, `<format>-proxy`, `<format>-group`. */
  types(): string[] {
    return this.formats().flatMap((f) => KINDS.map((k) => f + SUFFIX[k]));
  }

  /** `maven-proxy` → { format: "maven", kind: "proxy" }; null for a type no plugin serves. */
  parseType(type: string): { format: string; kind: RepositoryKind } | null {
    for (const kind of ["proxy", "group"] as const) {
      if (type.endsWith(SUFFIX[kind])) {
        const format = type.slice(0, -SUFFIX[kind].length);
        return this.byFormat.has(format) ? { format, kind } : null;
      }
    }
    return this.byFormat.has(type) ? { format: type, kind: "hosted" } : null;
  }

  /** Plugins that mount routes at the root of the repository port (OCI /v2). */
  rootMounts(): FormatPlugin[] {
    return [...new Set(this.byFormat.values())].filter((p) => p.root);
  }
}
