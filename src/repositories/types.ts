// Repository records as the rest of the system sees them. The repository service
// (issue 3) owns persistence and validation; formats (issue 4) only read these.

/** Every type string of FORMATS.md, grouped by format. */
export const REPOSITORY_FORMATS = {
  maven: ["maven", "maven-proxy", "maven-group"],
  gradle: ["gradle", "gradle-proxy", "gradle-group"],
  npm: ["npm", "npm-proxy", "npm-group"],
  pypi: ["pypi", "pypi-proxy", "pypi-group"],
  docker: ["docker", "docker-proxy", "docker-group"],
  file: ["file", "file-proxy", "file-group"],
  helm: ["helm", "helm-proxy", "helm-group"],
  go: ["go", "go-proxy", "go-group"],
  gem: ["gem", "gem-proxy", "gem-group"],
  php: ["php", "php-proxy", "php-group"],
  nuget: ["nuget", "nuget-proxy", "nuget-group"],
  deb: ["deb", "deb-proxy", "deb-group"],
  rpm: ["rpm", "rpm-proxy", "rpm-group"],
  conda: ["conda", "conda-proxy", "conda-group"],
} as const;

export type RepositoryFormat = keyof typeof REPOSITORY_FORMATS;
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

export function parseRepositoryType(type: string): { format: RepositoryFormat; kind: RepositoryKind } | null {
  for (const [format, types] of Object.entries(REPOSITORY_FORMATS)) {
    const i = (types as readonly string[]).indexOf(type);
    if (i >= 0) return { format: format as RepositoryFormat, kind: (["hosted", "proxy", "group"] as const)[i] };
  }
  return null;
}
