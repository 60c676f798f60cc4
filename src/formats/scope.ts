// Building RequestScopes: resolving repositories, their storage and the caller.
// Used by the 8080 dispatcher and by group modules (one scope per member). The caller itself is
// resolved by the repository port (src/server/callers.ts).
import type { AppContext } from "../context.js";
import type { Principal, RepositoryAction } from "../auth/permissions.js";
import { DomainError, forbidden, unauthorized } from "../errors.js";
import type { RepositoryRecord } from "../repositories/types.js";
import type { ListEntry, Storage } from "../storage/types.js";
import type { RequestScope } from "./types.js";

/** The repository and storage services (issue 3) as the formats use them. */
interface RepositoryServices {
  repositories?: { find(name: string): Promise<RepositoryRecord | null> | RepositoryRecord | null };
  storages?: { forRepository(repo: RepositoryRecord): Promise<Storage> | Storage };
}

const services = (app: AppContext) => app as unknown as RepositoryServices;

export async function findRepository(app: AppContext, name: string): Promise<RepositoryRecord | null> {
  const repos = services(app).repositories;
  if (!repos) return null;
  return (await repos.find(name)) ?? null;
}

export async function storageFor(app: AppContext, repo: RepositoryRecord): Promise<Storage> {
  const storages = services(app).storages;
  if (!storages) throw new DomainError("UNAVAILABLE", "No storage service is configured");
  return storages.forRepository(repo);
}

/** Error carrying the WWW-Authenticate challenge the repository port sends with 401. */
export const BASIC_CHALLENGE = 'Basic realm="pantera"';

/** Throws 401 (anonymous) or 403 when `actor` may not do `action` on `repo`. */
export function requireRepository(actor: Principal, repo: string, action: RepositoryAction): void {
  if (actor.permissions.allowsRepository(repo, action)) return;
  if (actor.via === "anonymous") throw unauthorized("Authentication required");
  throw forbidden(`Permission denied: '${action}' on repository '${repo}' is required`);
}

export function makeScope(app: AppContext, repo: RepositoryRecord, storage: Storage, actor: Principal, path: string, baseUrl: string): RequestScope {
  return {
    app,
    repo,
    storage,
    actor,
    path,
    baseUrl,
    require(action: RepositoryAction) {
      requireRepository(actor, repo.name, action);
    },
  };
}

/**
 * Scopes for a group's members, in order, same path and caller. Members that do not exist are
 * skipped; nested groups are returned as-is (their module resolves them). Access is decided on
 * the group: a caller who may read the group reads through it.
 */
export async function memberScopes(scope: RequestScope, path = scope.path): Promise<RequestScope[]> {
  const out: RequestScope[] = [];
  for (const name of scope.repo.members) {
    if (name === scope.repo.name) continue;
    const repo = await findRepository(scope.app, name);
    if (!repo) continue;
    const storage = await storageFor(scope.app, repo);
    const member = makeScope(scope.app, repo, storage, scope.actor, path, scope.baseUrl);
    member.require = () => scope.require("read");
    out.push(member);
  }
  return out;
}

/** How deep groups may nest (a group of groups of ...): deeper members are ignored. */
export const MAX_GROUP_DEPTH = 8;

/**
 * The shallow listing of folder `dir` (keys as the driver gives them). A group lists the union of
 * its members, the first member holding a name winning. `hide` may drop entries of a hosted or
 * proxy repository's own listing (the file format hides cooldown-blocked cached files).
 */
export async function listFolderUnion(
  scope: RequestScope,
  dir: string,
  hide?: (scope: RequestScope, dir: string, entries: Map<string, ListEntry>) => Promise<void>,
  depth = 0,
): Promise<Map<string, ListEntry>> {
  const out = new Map<string, ListEntry>();
  if (scope.repo.kind !== "group") {
    for (const e of await scope.storage.list(dir ? dir + "/" : "", { delimiter: "/" })) out.set(e.key, e);
    if (hide && out.size) await hide(scope, dir, out);
    return out;
  }
  if (depth >= MAX_GROUP_DEPTH) return out;
  for (const member of await memberScopes(scope, dir)) {
    for (const [k, e] of await listFolderUnion(member, dir, hide, depth + 1)) if (!out.has(k)) out.set(k, e);
  }
  return out;
}
