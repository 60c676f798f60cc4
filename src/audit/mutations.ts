// What the audit trail records of each GraphQL mutation: its category, its target and a fixed
// allow-list of arguments. Arguments not listed here (passwords, tokens, storage and provider
// configs) never reach an event; a mutation missing from the table is still audited, without details.
import type { AuditCategory } from "./service.js";
import { maskSecrets } from "../settings/mask.js";
import { jwtSubject } from "./identity.js";

type Args = Record<string, any>;

export interface MutationAudit {
  category: AuditCategory;
  target?: (a: Args) => unknown;
  /** Non-secret arguments (and result fields) worth keeping; `result` is undefined on failure. */
  details?: (a: Args, result: any) => Record<string, unknown>;
  /** Who, when not the authenticated caller: the attempted name of a login, the user an SSO login proved. */
  user?: (a: Args, result: any) => string | null | undefined;
}

/** Mutations that change nothing a trail must show (a 60-second download token, a token refresh). */
export const NOT_AUDITED = new Set(["artifactDownloadToken", "refreshToken"]);

const keysOf = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v).sort() : []);
const str = (v: unknown) => (typeof v === "string" ? v : undefined);
/** Whether a put created its object, once it succeeded. */
const created = (r: unknown) => (r && typeof r === "object" && "created" in r ? { created: (r as { created: unknown }).created } : {});
const provider = (a: Args) => `auth-provider/${a.id}`;

export const MUTATION_AUDIT: Record<string, MutationAudit> = {
  login: { category: "authentication", target: (a) => a.name, user: (a) => str(a.name) },
  ssoCallback: {
    category: "authentication",
    target: (a) => a.provider,
    details: (a) => ({ provider: a.provider }),
    user: (_a, r) => jwtSubject(r?.token),
  },
  generateApiToken: {
    category: "authentication",
    target: (a) => a.label ?? "",
    details: (a, r) => ({ label: a.label, expiryDays: a.expiryDays, ...(r ? { tokenId: r.id } : {}) }),
  },
  revokeApiToken: { category: "authentication", target: (a) => a.id },
  revokeUser: { category: "authentication", target: (a) => a.username, details: (_a, r) => (r ? { tokensRevoked: r.tokensRevoked } : {}) },
  updateAuthSettings: { category: "configuration", target: () => "jwt", details: (a) => ({ ...a.input }) },

  putUser: {
    category: "iam",
    target: (a) => a.name,
    details: (a, r) => ({ type: a.input?.type, email: a.input?.email, roles: a.input?.roles, enabled: a.input?.enabled, ...created(r) }),
  },
  deleteUser: { category: "iam", target: (a) => a.name },
  changePassword: { category: "iam", target: (a) => a.name },
  setUserEnabled: { category: "iam", target: (a) => a.name, details: (a) => ({ enabled: a.enabled }) },
  putRole: { category: "iam", target: (a) => a.name, details: (a, r) => ({ permissions: a.permissions, enabled: a.enabled, ...created(r) }) },
  deleteRole: { category: "iam", target: (a) => a.name },
  setRoleEnabled: { category: "iam", target: (a) => a.name, details: (a) => ({ enabled: a.enabled }) },

  // A repository config may hold remote credentials: only its type and storage alias are kept.
  putRepository: {
    category: "configuration",
    target: (a) => a.name,
    details: (a, r) => ({ type: str(a.repo?.type), storage: str(a.repo?.storage), ...created(r) }),
  },
  deleteRepository: { category: "configuration", target: (a) => a.name },
  moveRepository: { category: "configuration", target: (a) => a.name, details: (a) => ({ newName: a.newName }) },
  // Storage configs hold keys and passwords: only the driver type.
  putStorageAlias: {
    category: "configuration",
    target: (a) => a.name,
    details: (a) => ({ repository: a.repository, type: str(a.config?.type) }),
  },
  deleteStorageAlias: { category: "configuration", target: (a) => a.name, details: (a) => ({ repository: a.repository }) },

  updatePrefixes: { category: "configuration", target: () => "prefixes", details: (a) => ({ prefixes: a.prefixes }) },
  updateSettingsSection: { category: "configuration", target: (a) => a.section, details: (a) => ({ values: maskSecrets(a.values) }) },
  toggleAuthProvider: { category: "configuration", target: provider, details: (a) => ({ id: a.id, enabled: a.enabled }) },
  // Provider configs carry client secrets: only which keys were set.
  updateAuthProviderConfig: { category: "configuration", target: provider, details: (a) => ({ id: a.id, keys: keysOf(a.config) }) },
  setCooldownConfig: { category: "configuration", target: () => "cooldown", details: (a) => ({ ...a.input }) },
  cooldownUnblock: {
    category: "configuration",
    target: (a) => `${a.repo}/${a.artifact}@${a.version}`,
    details: (a) => ({ repository: a.repo, artifact: a.artifact, version: a.version }),
  },
  cooldownUnblockAll: {
    category: "configuration",
    target: (a) => a.repo,
    details: (a, r) => ({ repository: a.repo, ...(typeof r === "number" ? { unblocked: r } : {}) }),
  },

  deleteArtifact: { category: "file", target: (a) => `${a.name}/${a.path}`, details: (a) => ({ repository: a.name, path: a.path }) },
  deletePackage: { category: "file", target: (a) => `${a.name}/${a.path}`, details: (a) => ({ repository: a.name, path: a.path }) },
  searchReindex: { category: "configuration", target: () => "search-index" },
};

/** A mutation's audit spec; unknown mutations are audited as configuration changes without details. */
export function mutationAudit(name: string): MutationAudit | null {
  if (NOT_AUDITED.has(name)) return null;
  return MUTATION_AUDIT[name] ?? { category: "configuration" };
}
