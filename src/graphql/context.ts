// Per-request GraphQL context: the services resolvers use, the caller, and request-scoped DataLoaders.
import DataLoader from "dataloader";
import type { Principal } from "../auth/permissions.js";
import type { AuthService } from "../auth/service.js";
import type { AuthProviderService } from "../auth/providers.js";
import type { TokenPolicyService } from "../auth/policy.js";
import type { ArtifactService } from "../artifacts/service.js";
import type { AuditService } from "../audit/service.js";
import type { CooldownService } from "../cooldown/service.js";
import type { DashboardService } from "../dashboard/service.js";
import type { Database } from "../db/index.js";
import type { DomainError } from "../errors.js";
import type { EventBus } from "../events/bus.js";
import type { Logger } from "../log.js";
import type { RepositoryService } from "../repositories/service.js";
import type { RoleService } from "../roles/service.js";
import type { SearchService } from "../search/service.js";
import type { SettingsAdminDeps } from "../settings/admin.js";
import type { StorageService } from "../storage/service.js";
import type { UserService } from "../users/service.js";

/** The services GraphQL resolvers (and the REST layer running through them) use. */
export interface GraphqlServices extends SettingsAdminDeps {
  log: Logger;
  db: Database;
  bus: EventBus;
  auth: AuthService;
  authProviders: AuthProviderService;
  tokenPolicy: TokenPolicyService;
  users: UserService;
  roles: RoleService;
  storages: StorageService;
  repositories: RepositoryService;
  search: SearchService;
  cooldown: CooldownService;
  artifacts: ArtifactService;
  audit: AuditService;
  dashboard: DashboardService;
}

export interface RequestContext {
  app: GraphqlServices;
  actor: Principal | null;
  /** Why credentials that were sent did not authenticate (reported when an operation needs a caller). */
  authError?: DomainError;
  /** The client's address (X-Forwarded-For aware): login throttling and the audit trail. */
  ip: string;
  loaders: ReturnType<typeof createLoaders>;
}

function createLoaders(app: GraphqlServices) {
  return {
    userRoles: new DataLoader<string, string[]>((ids) => app.users.roleNames(ids)),
  };
}

export function createRequestContext(app: GraphqlServices, actor: Principal | null, authError?: DomainError, ip = ""): RequestContext {
  let loaders: ReturnType<typeof createLoaders> | undefined;
  return {
    app,
    actor,
    authError,
    ip,
    get loaders() {
      return (loaders ??= createLoaders(app));
    },
  };
}
