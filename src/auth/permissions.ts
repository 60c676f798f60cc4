// Permission model shared by every entry point (GraphQL, REST, repository port).
//
// A role's permissions object maps keys to actions:
//   "<repository>" | "*"      -> repository actions (read, download, write, upload, delete, *)
//   "api_*_permissions"       -> management API actions of that domain (or "*")
//   "can_delete_artifacts"    -> boolean
//   "adapter_basic_permissions" -> { "<repository>": [actions] } (older nested form)
// "*": ["*"] is the superuser grant: every repository, every API domain, artifact deletion.
import { badRequest, forbidden, unauthorized } from "../errors.js";

export const API_DOMAINS = {
  api_repository_permissions: ["read", "create", "update", "delete", "move"],
  api_user_permissions: ["read", "create", "update", "delete", "enable", "change_password"],
  api_role_permissions: ["read", "create", "update", "delete", "enable"],
  api_alias_permissions: ["read", "create", "delete"],
  api_cooldown_permissions: ["read", "write"],
  api_search_permissions: ["read", "write"],
} as const;

export type ApiDomain = keyof typeof API_DOMAINS;
export type ApiAction<D extends ApiDomain> = (typeof API_DOMAINS)[D][number];
export const REPOSITORY_ACTIONS = ["read", "download", "write", "upload", "delete", "*"] as const;
export type RepositoryAction = "read" | "write" | "delete";

// Clients and older configs use synonyms: download = read, upload = write.
const REPO_SYNONYMS: Record<string, RepositoryAction | "*"> = {
  read: "read",
  download: "read",
  write: "write",
  upload: "write",
  deploy: "write",
  delete: "delete",
  "*": "*",
};

export type PermissionsJson = Record<string, unknown>;

const isApiDomain = (k: string): k is ApiDomain => Object.prototype.hasOwnProperty.call(API_DOMAINS, k);

/** Validates and normalises a role's permissions object; throws BAD_REQUEST with the offending key. */
export function validatePermissions(input: unknown): PermissionsJson {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw badRequest("'permissions' must be an object mapping repositories or API domains to lists of actions");
  }
  const out: PermissionsJson = {};
  const actionList = (key: string, value: unknown, allowed: readonly string[]): string[] => {
    if (!Array.isArray(value) || value.some((a) => typeof a !== "string")) {
      throw badRequest(`Permission '${key}' must be a list of action names`);
    }
    for (const a of value as string[]) {
      if (!allowed.includes(a)) throw badRequest(`Unknown action '${a}' for '${key}'; allowed: ${allowed.join(", ")}`);
    }
    return [...new Set(value as string[])];
  };
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (key === "can_delete_artifacts") {
      if (typeof value !== "boolean") throw badRequest("'can_delete_artifacts' must be a boolean");
      out[key] = value;
    } else if (isApiDomain(key)) {
      out[key] = actionList(key, value, [...API_DOMAINS[key], "*"]);
    } else if (key === "adapter_basic_permissions") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw badRequest("'adapter_basic_permissions' must map repositories to lists of actions");
      }
      const nested: Record<string, string[]> = {};
      for (const [repo, actions] of Object.entries(value as Record<string, unknown>)) {
        nested[repo] = actionList(repo, actions, Object.keys(REPO_SYNONYMS));
      }
      out[key] = nested;
    } else if (key.startsWith("api_")) {
      throw badRequest(`Unknown API permission domain '${key}'; known: ${Object.keys(API_DOMAINS).join(", ")}`);
    } else {
      if (key.length === 0 || key.length > 255) throw badRequest("Repository names in permissions must be 1-255 characters");
      out[key] = actionList(key, value, Object.keys(REPO_SYNONYMS));
    }
  }
  return out;
}

/** The union of the grants of a set of enabled roles. */
export class Permissions {
  readonly superuser: boolean;
  private readonly api = new Map<ApiDomain, Set<string>>();
  private readonly repos = new Map<string, Set<RepositoryAction | "*">>();
  readonly canDeleteArtifacts: boolean;

  constructor(grants: PermissionsJson[]) {
    let superuser = false;
    let canDelete = false;
    const addRepo = (repo: string, actions: unknown) => {
      if (!Array.isArray(actions)) return;
      const set = this.repos.get(repo) ?? new Set();
      for (const a of actions) {
        const norm = REPO_SYNONYMS[String(a)];
        if (norm) set.add(norm);
      }
      this.repos.set(repo, set);
    };
    for (const g of grants) {
      for (const [key, value] of Object.entries(g ?? {})) {
        if (key === "can_delete_artifacts") canDelete ||= value === true;
        else if (isApiDomain(key)) {
          const set = this.api.get(key) ?? new Set();
          if (Array.isArray(value)) for (const a of value) set.add(String(a));
          this.api.set(key, set);
        } else if (key === "adapter_basic_permissions" && value && typeof value === "object") {
          for (const [repo, actions] of Object.entries(value)) addRepo(repo, actions);
        } else {
          if (key === "*" && Array.isArray(value) && value.includes("*")) superuser = true;
          addRepo(key, value);
        }
      }
    }
    this.superuser = superuser;
    this.canDeleteArtifacts = superuser || canDelete;
  }

  allowsApi(domain: ApiDomain, action: string): boolean {
    if (this.superuser) return true;
    const set = this.api.get(domain);
    return !!set && (set.has("*") || set.has(action));
  }

  apiActions(domain: ApiDomain): string[] {
    return API_DOMAINS[domain].filter((a) => this.allowsApi(domain, a));
  }

  allowsRepository(repo: string, action: RepositoryAction): boolean {
    if (this.superuser) return true;
    for (const key of [repo, "*"]) {
      const set = this.repos.get(key);
      if (set && (set.has("*") || set.has(action))) return true;
    }
    return false;
  }

  /** True when some repository grant could apply (used to filter lists in SQL-free code). */
  repositoryNamesWith(action: RepositoryAction): { all: boolean; names: string[] } {
    if (this.superuser) return { all: true, names: [] };
    const names: string[] = [];
    for (const [key, set] of this.repos) {
      if (set.has("*") || set.has(action)) {
        if (key === "*") return { all: true, names: [] };
        names.push(key);
      }
    }
    return { all: false, names };
  }

  /** The `permissions` object of GET /auth/me. */
  toJSON() {
    const out: Record<string, unknown> = {};
    for (const d of Object.keys(API_DOMAINS) as ApiDomain[]) out[d] = this.apiActions(d);
    out.can_delete_artifacts = this.canDeleteArtifacts;
    return out;
  }
}

/** An authenticated caller: a user with the resolved grants of its enabled roles. */
export interface Principal {
  userId: string;
  name: string;
  email: string | null;
  context: string;
  authType: string;
  groups: string[];
  roles: string[];
  permissions: Permissions;
  /** How the caller proved itself: password, access token, API token... */
  via: "password" | "access" | "api" | "anonymous";
}

export function requireActor(actor: Principal | null | undefined, authError?: Error): Principal {
  if (!actor || actor.via === "anonymous") throw authError ?? unauthorized();
  return actor;
}

/** The one check every management operation goes through. */
export function requireApi<D extends ApiDomain>(actor: Principal | null | undefined, domain: D, action: ApiAction<D>, authError?: Error): Principal {
  const p = requireActor(actor, authError);
  if (!p.permissions.allowsApi(domain, action)) throw forbidden(`Permission denied: ${domain}:${action} is required`);
  return p;
}
