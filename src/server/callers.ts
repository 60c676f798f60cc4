// The caller of a repository-port request (format dispatcher, /.import, Indy): credentials from
// the Authorization header, or the anonymous principal. One per node, built by the composition root.
import type { Principal } from "../auth/permissions.js";
import type { AuthService } from "../auth/service.js";
import type { EventBus } from "../events/bus.js";

const ANONYMOUS_TTL_MS = 5_000;

export interface PortCallersDeps {
  auth: Pick<AuthService, "authenticateHeader" | "anonymous">;
  /** User and role changes drop the cached anonymous principal (its grants may have changed). */
  bus: Pick<EventBus, "on">;
}

export class PortCallers {
  private anonymousHit?: { principal: Promise<Principal>; until: number };

  constructor(private readonly deps: PortCallersDeps) {
    deps.bus.on((e) => {
      if (e.type === "user.changed" || e.type === "role.changed" || e.type === "user.revoked") this.anonymousHit = undefined;
    });
  }

  /** The anonymous principal, cached briefly: public reads skip the database. */
  anonymous(): Promise<Principal> {
    const hit = this.anonymousHit;
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = this.deps.auth.anonymous();
    const entry = { principal, until: Date.now() + ANONYMOUS_TTL_MS };
    this.anonymousHit = entry;
    principal.catch(() => {
      if (this.anonymousHit === entry) this.anonymousHit = undefined;
    });
    return principal;
  }

  /** Authorization header → principal; no header → the anonymous principal; bad credentials → 401 (429 while locked out). */
  async authenticate(header: string | undefined, opts: { ip?: string } = {}): Promise<Principal> {
    const { actor, error } = await this.deps.auth.authenticateHeader(header || undefined, opts);
    if (error) throw error;
    return actor ?? (await this.anonymous());
  }
}
