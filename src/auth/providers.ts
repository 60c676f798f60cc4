// Authentication providers (local, okta, keycloak) and the OAuth2/OIDC SSO flow.
import { randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import type { PrismaClient } from "../db/index.js";
import { badRequest, notFound, unauthorized } from "../errors.js";
import type { EventBus } from "../events/bus.js";
import type { AuthService } from "./service.js";
import { requireApi, type Principal } from "./permissions.js";

type ProviderConfig = Record<string, unknown>;
const str = (c: ProviderConfig, k: string) => (typeof c[k] === "string" && (c[k] as string).length > 0 ? (c[k] as string) : undefined);

/** OIDC endpoints: explicit config wins, else the provider's conventional layout under its issuer. */
function endpoints(type: string, c: ProviderConfig) {
  const issuer = str(c, "issuer")?.replace(/\/+$/, "");
  if (!issuer) return undefined;
  const okta = issuer.includes("/oauth2/") ? issuer : `${issuer}/oauth2`;
  const conventional =
    type === "keycloak"
      ? { auth: `${issuer}/protocol/openid-connect/auth`, token: `${issuer}/protocol/openid-connect/token`, jwks: `${issuer}/protocol/openid-connect/certs` }
      : { auth: `${okta}/v1/authorize`, token: `${okta}/v1/token`, jwks: `${okta}/v1/keys` };
  return {
    issuer,
    auth: str(c, "authorization-endpoint") ?? conventional.auth,
    token: str(c, "token-endpoint") ?? conventional.token,
    jwks: str(c, "jwks-uri") ?? conventional.jwks,
  };
}

export class AuthProviderService {
  constructor(
    private prisma: PrismaClient,
    private auth: AuthService,
    private bus: EventBus,
  ) {}

  /** Public: which providers exist and whether they are enabled. `query` is Pothos' selection. */
  async list(query: object = {}) {
    return this.prisma.authProvider.findMany({ ...query, orderBy: [{ priority: "asc" }, { id: "asc" }] });
  }

  private async sso(name: string) {
    const p = await this.prisma.authProvider.findUnique({ where: { type: name } });
    const config = (p?.config ?? {}) as ProviderConfig;
    const ep = p && p.enabled && name !== "local" ? endpoints(name, config) : undefined;
    if (!p || !ep || !str(config, "client-id")) throw notFound(`Auth provider '${name}' is not configured for SSO`);
    return { provider: p, config, ep, clientId: str(config, "client-id")! };
  }

  async redirect(name: string, callbackUrl: string) {
    if (!callbackUrl) throw badRequest("'callback_url' is required");
    if (!/^https?:\/\//.test(callbackUrl)) throw badRequest("'callback_url' must be an http(s) URL");
    const { config, ep, clientId } = await this.sso(name);
    const state = randomBytes(12).toString("hex");
    const url = new URL(ep.auth);
    url.searchParams.set("client_id", clientId);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("scope", str(config, "scope") ?? "openid profile email");
    url.searchParams.set("redirect_uri", callbackUrl);
    url.searchParams.set("state", state);
    return { url: url.toString(), state };
  }

  /** Exchanges an authorization code at the IdP, verifies the id_token, provisions the user. */
  async callback(name: string, code: string, callbackUrl: string) {
    if (!code) throw badRequest("'code' is required");
    if (!callbackUrl) throw badRequest("'callback_url' is required");
    const { provider, config, ep, clientId } = await this.sso(name);
    let idToken: string;
    try {
      const res = await fetch(ep.token, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: callbackUrl,
          client_id: clientId,
          client_secret: str(config, "client-secret") ?? "",
        }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json().catch(() => ({}))) as { id_token?: string; error_description?: string; error?: string };
      if (!res.ok || !body.id_token) throw new Error(body.error_description ?? body.error ?? `token endpoint answered ${res.status}`);
      idToken = body.id_token;
    } catch (err) {
      throw unauthorized(`SSO code exchange with '${name}' failed: ${(err as Error).message}`);
    }
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(idToken, createRemoteJWKSet(new URL(ep.jwks)), { issuer: ep.issuer, audience: clientId }));
    } catch (err) {
      throw unauthorized(`SSO id_token from '${name}' is invalid: ${(err as Error).message}`);
    }
    const username = (claims.preferred_username ?? claims.email ?? claims.sub) as string | undefined;
    if (!username) throw unauthorized("SSO id_token carries no user name");
    const groupsClaim = claims[str(config, "groups-claim") ?? "groups"];
    const groups = Array.isArray(groupsClaim) ? groupsClaim.map(String) : [];
    const mapping = (config["group-roles"] ?? {}) as Record<string, string>;
    const roleNames = [...new Set(groups.map((g) => mapping[g]).filter(Boolean))];
    const roles = await this.prisma.role.findMany({ where: { name: { in: roleNames } } });
    const user = await this.prisma.user.upsert({
      where: { name: username },
      create: { name: username, email: (claims.email as string) ?? null, authType: provider.type, context: provider.type, groups },
      update: { email: (claims.email as string) ?? undefined, groups, context: provider.type },
    });
    if (!user.enabled) throw unauthorized(`User '${username}' is disabled`);
    await this.prisma.$transaction([
      this.prisma.userRole.deleteMany({ where: { userId: user.id } }),
      this.prisma.userRole.createMany({ data: roles.map((r) => ({ userId: user.id, roleId: r.id })) }),
    ]);
    await this.bus.publish({ type: "user.changed", userId: user.id });
    return this.auth.sessionFor(user);
  }
}

// ---- REST section 12: toggle and config of auth provider rows (permission: api_role_permissions:update) ----


async function providerById(prisma: PrismaClient, id: number) {
  if (!Number.isInteger(id) || id < 1) throw badRequest("Auth provider id must be a positive integer");
  const p = await prisma.authProvider.findUnique({ where: { id } });
  if (!p) throw notFound(`Auth provider ${id} not found`);
  return p;
}

export async function toggleAuthProvider(prisma: PrismaClient, bus: EventBus, actor: Principal | null, id: number, enabled: unknown): Promise<void> {
  requireApi(actor, "api_role_permissions", "update");
  if (typeof enabled !== "boolean") throw badRequest("'enabled' must be a boolean");
  const p = await providerById(prisma, id);
  if (!enabled && p.enabled && (await prisma.authProvider.count({ where: { enabled: true } })) === 1) {
    throw badRequest(`Auth provider '${p.type}' is the only enabled provider; enable another one first`);
  }
  await prisma.authProvider.update({ where: { id }, data: { enabled } });
  await bus.publish({ type: "settings.changed", section: "auth_providers" });
}

/** Merges `config` into the provider's config; masked values sent back unchanged ("ab***yz") keep the stored secret. */
export async function updateAuthProviderConfig(prisma: PrismaClient, bus: EventBus, actor: Principal | null, id: number, config: unknown): Promise<void> {
  requireApi(actor, "api_role_permissions", "update");
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw badRequest("Auth provider config must be a JSON object");
  const p = await providerById(prisma, id);
  const current = (p.config ?? {}) as Record<string, unknown>;
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(config as Record<string, unknown>)) {
    if (typeof v === "string" && /^.{0,2}\*\*\*.{0,2}$/.test(v) && typeof current[k] === "string") continue;
    if (v === null) delete next[k];
    else next[k] = v;
  }
  for (const k of ["issuer", "authorization-endpoint", "token-endpoint", "jwks-uri"]) {
    const v = next[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || !/^https?:\/\/[^\s]+$/.test(v)) throw badRequest(`'${k}' must be an http(s) URL`);
  }
  for (const k of ["client-id", "client-secret", "scope", "groups-claim"]) {
    if (next[k] !== undefined && typeof next[k] !== "string") throw badRequest(`'${k}' must be a string`);
  }
  if (next["group-roles"] !== undefined && (next["group-roles"] === null || typeof next["group-roles"] !== "object" || Array.isArray(next["group-roles"]))) {
    throw badRequest("'group-roles' must map IdP groups to role names");
  }
  await prisma.authProvider.update({ where: { id }, data: { config: next as object } });
  await bus.publish({ type: "settings.changed", section: "auth_providers" });
}
