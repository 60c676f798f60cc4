// Who is calling the OCI API and what they may do: credentials (Bearer tokens from /v2/token,
// Basic, API tokens), the token endpoint itself, Bearer challenges and per-repository checks.
import type { Principal, RepositoryAction } from "../../auth/permissions.js";
import { DomainError } from "../../errors.js";
import type { Reply, RootRequest } from "../kit/contract.js";
import { ociError } from "./errors.js";
import { bearerChallenge, parseScopes } from "./protocol.js";

export const SERVICE = "pantera";
/** The token handed to anonymous token requests; it authenticates as the anonymous principal. */
export const ANONYMOUS_TOKEN = "anonymous";

export interface AuthPort {
  authenticateHeader(header: string | undefined, opts?: { ip?: string }): Promise<{ actor: Principal | null; error?: Error }>;
  authenticateBasic(name: string, secret: string, opts?: { ip?: string }): Promise<Principal>;
  anonymous(): Promise<Principal>;
  issueAccessToken(user: { id: string; name: string }): Promise<{ token: string; expiresIn: number }>;
}

/** Sets the Bearer challenge pointing at this registry's token endpoint. */
export function challenge(req: RootRequest, headers: Record<string, string>, scope?: string): void {
  headers["WWW-Authenticate"] = bearerChallenge(`${req.origin}/v2/token`, SERVICE, scope);
}

export class OciAccess {
  constructor(private readonly auth: AuthPort) {}

  /** The caller: anonymous without credentials (or with the anonymous token), 401 for bad ones. */
  async actorOf(req: RootRequest): Promise<Principal> {
    const header = req.header("authorization");
    if (!header) return this.auth.anonymous();
    if (/^bearer\s+/i.test(header) && header.replace(/^bearer\s+/i, "").trim() === ANONYMOUS_TOKEN) return this.auth.anonymous();
    const res = await this.auth.authenticateHeader(header, { ip: req.ip });
    if (res.error instanceof DomainError && res.error.code === "TOO_MANY_REQUESTS") throw res.error;
    if (!res.actor) throw ociError("UNAUTHORIZED", res.error?.message ?? "Invalid credentials");
    return res.actor;
  }

  /** 401 with a scoped challenge for anonymous callers, 403 DENIED for others, unless `action` is granted. */
  check(req: RootRequest, headers: Record<string, string>, actor: Principal, repo: string, image: string, action: RepositoryAction): void {
    if (actor.permissions.allowsRepository(repo, action)) return;
    const scopeAction = action === "read" ? "pull" : action === "write" ? "pull,push" : "delete";
    if (actor.via === "anonymous") {
      challenge(req, headers, `repository:${repo}/${image}:${scopeAction}`);
      throw ociError("UNAUTHORIZED", "Authentication required", [{ Type: "repository", Name: `${repo}/${image}`, Action: scopeAction }]);
    }
    throw ociError("DENIED", `'${actor.name}' may not ${action} repository '${repo}'`);
  }

  /** GET|POST /v2/token: Basic credentials → an access token; none → the anonymous token. */
  async token(req: RootRequest, headers: Record<string, string>): Promise<Reply> {
    const header = req.header("authorization");
    let actor: Principal | null = null;
    if (header) {
      const m = /^basic\s+(.+)$/i.exec(header);
      if (!m) throw ociError("UNAUTHORIZED", "The token endpoint takes HTTP Basic credentials");
      const decoded = Buffer.from(m[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw ociError("UNAUTHORIZED", "Malformed Basic credentials");
      try {
        actor = await this.auth.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1), { ip: req.ip });
      } catch (err) {
        if (err instanceof DomainError && err.code === "TOO_MANY_REQUESTS") throw err;
        headers["WWW-Authenticate"] = `Basic realm="${SERVICE}"`;
        throw ociError("UNAUTHORIZED", (err as Error).message || "Invalid credentials");
      }
    }
    const scopes = parseScopes(req.query.getAll("scope"));
    const issued = new Date().toISOString();
    if (!actor)
      return { status: 200, headers, body: { token: ANONYMOUS_TOKEN, access_token: ANONYMOUS_TOKEN, expires_in: 300, issued_at: issued, scope: scopes } };
    const t = await this.auth.issueAccessToken({ id: actor.userId, name: actor.name });
    return { status: 200, headers, body: { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: issued } };
  }
}
