// Repository records as the rest of the system sees them. The repository service
// (issue 3) owns persistence and validation; formats (issue 4) only read these.
//
// Which formats exist is not listed here: the registered format plugins say it (the
// FormatRegistry, passed to the services that need it as a `RepositoryTypes` port).

/** A format name (`maven`, `npm`...): whatever a registered plugin serves, or a stored row's. */
export type RepositoryFormat = string;
export type RepositoryKind = "hosted" | "proxy" | "group";

export interface RemoteConfig {
  url: string;
  username?: string;
  password?: string;
  /** Free-form extras (timeouts, cache TTLs...) kept as given. */
  [key: string]: unknown;
}

export interface RepositoryRecord {
  name: string;
  type: string;
  format: RepositoryFormat;
  kind: RepositoryKind;
  storage: string;
  remotes: RemoteConfig[];
  members: string[];
  /** The whole `repo` object as configured (format settings, Indy extras...). */
  config: Record<string, unknown>;
}

/** A repository's config schema as the repository service uses it (src/formats/kit/config.ts). */
export interface RepositoryConfigParser {
  parse(raw: Record<string, unknown>, kind: RepositoryKind): Record<string, unknown>;
}

/**
 * The repository types this build serves, as the repository service, cooldown and the dashboard
 * read them. The FormatRegistry (src/formats/kit/registry.ts) satisfies it.
 */
export interface RepositoryTypes {
  /** Every supported type: `<format>`, `<format>-proxy`, `<format>-group` per registered format. */
  types(): string[];
  /** `maven-proxy` → { format: "maven", kind: "proxy" }; null for a type no registered format serves. */
  parseType(type: string): { format: string; kind: RepositoryKind } | null;
  /** The plugin of a registered format (its config schema), or undefined. */
  plugin(format: string): { config?: RepositoryConfigParser } | undefined;
}

const TYPE = /^([a-z][a-z0-9]*)(?:-(proxy|group))?$/;

/**
 * Splits a type string by its form alone — `helm-proxy` → { format: "helm", kind: "proxy" } —
 * whether or not a format of that name is built (stored rows of formats this build does not
 * serve keep their format, and the dispatcher answers 501 for them). Null for strings not of
 * the `<format>[-proxy|-group]` form. Use RepositoryTypes.parseType to accept a type.
 */
export function parseRepositoryType(type: string): { format: RepositoryFormat; kind: RepositoryKind } | null {
  const m = TYPE.exec(type);
  if (!m) return null;
  return { format: m[1], kind: m[2] === "proxy" ? "proxy" : m[2] === "group" ? "group" : "hosted" };
}
