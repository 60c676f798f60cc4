// Authentication providers (local, okta, keycloak): the OAuth2/OIDC SSO flow, the external
// password logins (Keycloak direct grant, Okta Authn API), and the provider rows themselves.
import { randomBytes } from "node:crypto";
import type { PrismaClient } from "../db/index.js";
import { badRequest, notFound, tooManyRequests, unauthorized } from "../errors.js";
import type { EventBus } from "../events/bus.js";
import type { Logger } from "../log.js";
import type { AuthService } from "./service.js";
import { requireApi, type Principal } from "./permissions.js";
import { restoreMasked } from "../settings/mask.js";
import { isObject } from "../json.js";
import { provisionExternalUser, SSO_PROVIDERS, type ExternalClaims, type ProvisioningConfig } from "./identities.js";
import { endpoints, OidcError, pkceChallenge, randomToken, str, tokenRequest, verifyIdToken, type ProviderConfig } from "./oidc.js";
import { keycloakPassword, oktaPassword } from "./password-providers.js";

/** How long a redirect's state (and its PKCE verifier and nonce) can be redeemed. */
const STATE_TTL_MS = 10 * 60_000;
/** The redirect is public: this bounds the rows anonymous callers can make within one state lifetime. */
export const MAX_PENDING_SSO_STATES = 10_000;

const provisioning = (c: ProviderConfig): ProvisioningConfig => ({ groupRoles: (c["group-roles"] ?? {}) as Record<string, string> });

export class AuthProviderService {
  constructor(
    private prisma: PrismaClient,
    private auth: AuthService,
    private bus: EventBus,
    private log?: Logger,
    /** The audit trail's hook for users created just in time (src/audit/service.ts userProvisioned). */
    private audit?: { userProvisioned(user: string, provider: string): Promise<void> },
  ) {
    auth.usePasswordChain((name, pass, mfaCode, local) => this.passwordLogin(name, pass, mfaCode, local));
  }

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

  /**
   * The authorization URL, with a state Pantera keeps (sso_states, shared by every node) to find
   * the nonce and PKCE verifier at the callback.
   *
   * PKCE needs the verifier at the callback, and only the state finds it. The documented callback
   * body has no state (the UI checks it itself), so unless the provider sets `require-state: true`
   * a callback may come without one; a code bound to a code_challenge cannot be redeemed without
   * its verifier, so such providers get no PKCE. The nonce is always sent and checked whenever
   * the callback names its state; a stateless callback cannot know it and leaves it unchecked.
   */
  async redirect(name: string, callbackUrl: string) {
    if (!callbackUrl) throw badRequest("'callback_url' is required");
    if (!/^https?:\/\//.test(callbackUrl)) throw badRequest("'callback_url' must be an http(s) URL");
    const { config, ep, clientId } = await this.sso(name);
    const state = randomBytes(12).toString("hex");
    const nonce = randomToken(16);
    const verifier = config["require-state"] === true ? randomToken(32) : null;
    await this.prisma.ssoState.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    if ((await this.prisma.ssoState.count()) >= MAX_PENDING_SSO_STATES) {
      throw tooManyRequests("Too many SSO logins are in progress; try again in a minute", 60);
    }
    await this.prisma.ssoState.create({
      data: { state, provider: name, redirectUri: callbackUrl, verifier, nonce, expiresAt: new Date(Date.now() + STATE_TTL_MS) },
    });
    const url = new URL(ep.auth);
    url.searchParams.set("client_id", clientId);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("scope", str(config, "scope") ?? "openid profile email");
    url.searchParams.set("redirect_uri", callbackUrl);
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", nonce);
    if (verifier) {
      url.searchParams.set("code_challenge", pkceChallenge(verifier));
      url.searchParams.set("code_challenge_method", "S256");
    }
    return { url: url.toString(), state };
  }

  /** Marks a state Pantera issued for this provider and callback as used; returns its verifier and nonce. */
  private async redeemState(name: string, state: string, callbackUrl: string) {
    const row = await this.prisma.ssoState.findUnique({ where: { state } });
    const now = new Date();
    if (!row || row.provider !== name || row.expiresAt <= now) throw unauthorized("SSO state is unknown or expired; start the login again");
    if (row.redirectUri !== callbackUrl) throw unauthorized("SSO state was issued for another callback_url");
    const won = await this.prisma.ssoState.updateMany({ where: { state, usedAt: null }, data: { usedAt: now } });
    if (won.count !== 1) throw unauthorized("SSO state was already used; start the login again");
    return { verifier: row.verifier ?? undefined, nonce: row.nonce };
  }

  /** Exchanges an authorization code at the IdP, verifies the id_token, provisions the user. */
  async callback(name: string, code: string, callbackUrl: string, state?: string | null) {
    if (!code) throw badRequest("'code' is required");
    if (!callbackUrl) throw badRequest("'callback_url' is required");
    if (state !== undefined && state !== null && (typeof state !== "string" || !state)) throw badRequest("'state' must be a non-empty string");
    const { config, ep } = await this.sso(name);
    let login: { verifier?: string; nonce?: string } = {};
    if (state) login = await this.redeemState(name, state, callbackUrl);
    else if (config["require-state"] === true) throw badRequest(`Auth provider '${name}' requires the 'state' returned by the redirect`);
    let claims;
    try {
      const idToken = await tokenRequest(ep, config, {
        grant_type: "authorization_code",
        code,
        redirect_uri: callbackUrl,
        ...(login.verifier ? { code_verifier: login.verifier } : {}),
      });
      claims = await verifyIdToken(idToken, ep, config, login.nonce);
    } catch (err) {
      if (err instanceof OidcError) throw unauthorized(`SSO login with '${name}' failed: ${err.message}`);
      throw err;
    }
    const user = await this.provision(name, claims, config);
    return this.auth.sessionFor(user);
  }

  private async provision(provider: string, claims: ExternalClaims, config: ProviderConfig) {
    const user = await provisionExternalUser(this.prisma, this.bus, provider, claims, provisioning(config));
    if (user.created) await this.audit?.userProvisioned(user.name, provider);
    return { id: user.id, name: user.name };
  }

  /**
   * Password login at the enabled providers, in the priority order of their rows; `local` is
   * Pantera's own password check (AuthService). A provider that is down or says no passes the
   * login on to the next one; a DomainError of its own (MFA code required) ends the chain.
   */
  async passwordLogin(
    name: string,
    pass: string,
    mfaCode: string | undefined,
    local: () => Promise<{ id: string; name: string } | null>,
  ): Promise<{ id: string; name: string } | null> {
    const rows = await this.prisma.authProvider.findMany({
      where: { enabled: true, type: { in: ["local", ...SSO_PROVIDERS] } },
      orderBy: [{ priority: "asc" }, { id: "asc" }],
    });
    for (const row of rows) {
      if (row.type === "local") {
        const user = await local();
        if (user) return user;
        continue;
      }
      const config = (row.config ?? {}) as ProviderConfig;
      let claims;
      try {
        claims = row.type === "keycloak" ? await keycloakPassword(config, name, pass) : await oktaPassword(config, name, pass, mfaCode);
      } catch (err) {
        if (err instanceof OidcError) {
          // Down or refusing: the next provider may know the user. The message is safe to log (no secret, no upstream body).
          this.log?.warn(`auth provider '${row.type}': password login passed on: ${err.message}`);
          continue;
        }
        throw err;
      }
      if (claims) return this.provision(row.type, claims, config);
    }
    return null;
  }
}

// ---- REST section 12: toggle and config of auth provider rows (permission: api_role_permissions:update) ----

/** okta and keycloak need an issuer and a client id before they can take part in any login. */
function requireUsable(type: string, config: ProviderConfig) {
  if (!(SSO_PROVIDERS as readonly string[]).includes(type)) return;
  const missing = ["issuer", "client-id"].filter((k) => !str(config, k));
  if (missing.length) {
    const keys = missing.map((k) => `'${k}'`).join(" and ");
    throw badRequest(`Auth provider '${type}' needs ${keys} in its config before it can be enabled`);
  }
}

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
  // An enabled provider is offered to users (GET /auth/providers): one that cannot work is refused.
  if (enabled) requireUsable(p.type, (p.config ?? {}) as ProviderConfig);
  await prisma.authProvider.update({ where: { id }, data: { enabled } });
  await bus.publish({ type: "settings.changed", section: "auth_providers" });
}

/**
 * Merges `config` into the provider's config (null removes a key); masked secrets sent back as
 * GET /settings showed them ("ab***yz") keep the stored value. okta/keycloak keys: issuer,
 * client-id, client-secret, scope, groups-claim, group-roles {group: role}, require-state
 * (callbacks must name the redirect's state; enables PKCE), authorization-endpoint,
 * token-endpoint, jwks-uri (override the conventional layout), and for Okta password logins
 * redirect-uri (registered at Okta for the session-token exchange) and org-url (Authn API base,
 * default the issuer's origin).
 */
export async function updateAuthProviderConfig(prisma: PrismaClient, bus: EventBus, actor: Principal | null, id: number, config: unknown): Promise<void> {
  requireApi(actor, "api_role_permissions", "update");
  if (config === null || typeof config !== "object" || Array.isArray(config)) throw badRequest("Auth provider config must be a JSON object");
  const p = await providerById(prisma, id);
  const current = (p.config ?? {}) as Record<string, unknown>;
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(restoreMasked(config, current, "config") as Record<string, unknown>)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  for (const k of ["issuer", "authorization-endpoint", "token-endpoint", "jwks-uri", "redirect-uri", "org-url"]) {
    const v = next[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || !/^https?:\/\/[^\s]+$/.test(v)) throw badRequest(`'${k}' must be an http(s) URL`);
  }
  for (const k of ["client-id", "client-secret", "scope", "groups-claim"]) {
    if (next[k] !== undefined && typeof next[k] !== "string") throw badRequest(`'${k}' must be a string`);
  }
  const groupRoles = next["group-roles"];
  if (groupRoles !== undefined && (!isObject(groupRoles) || Object.values(groupRoles).some((v) => typeof v !== "string"))) {
    throw badRequest("'group-roles' must map IdP groups to role names");
  }
  if (next["require-state"] !== undefined && typeof next["require-state"] !== "boolean") throw badRequest("'require-state' must be a boolean");
  if (p.enabled) requireUsable(p.type, next);
  await prisma.authProvider.update({ where: { id }, data: { config: next as object } });
  await bus.publish({ type: "settings.changed", section: "auth_providers" });
}
