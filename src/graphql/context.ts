// Per-request GraphQL context: the caller, and request-scoped DataLoaders.
import DataLoader from "dataloader";
import type { AppContext } from "../context.js";
import type { Principal } from "../auth/permissions.js";
import type { DomainError } from "../errors.js";

export interface RequestContext {
  app: AppContext;
  actor: Principal | null;
  /** Why credentials that were sent did not authenticate (reported when an operation needs a caller). */
  authError?: DomainError;
  /** The client's address (X-Forwarded-For aware): login throttling and the audit trail. */
  ip: string;
  loaders: ReturnType<typeof createLoaders>;
}

function createLoaders(app: AppContext) {
  return {
    userRoles: new DataLoader<string, string[]>((ids) => app.users.roleNames(ids)),
  };
}

export function createRequestContext(app: AppContext, actor: Principal | null, authError?: DomainError, ip = ""): RequestContext {
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
