// Authentication: credentials -> Principal, and the token lifecycle (access, refresh, API tokens).
import { createHash, createHmac, randomUUID } from "node:crypto";
import { SignJWT, jwtVerify, decodeProtectedHeader, errors as joseErrors } from "jose";
import type { PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, notFound, unauthorized, DomainError } from "../errors.js";
import type { SettingsService } from "../settings/service.js";
import type { KeyStore } from "./keys.js";
import { verifyPassword } from "./passwords.js";
import { LoginThrottle } from "./throttle.js";
import { Permissions, requireActor, requireApi, type Principal, type PermissionsJson } from "./permissions.js";
import { refreshOrStale } from "../db/errors.js";

export const ISSUER = "pantera";
type TokenType = "access" | "refresh" | "api";

interface TokenClaims {
  sub: string;
  uid: string;
  type: TokenType;
  jti?: string;
  iat?: number;
  exp?: number;
  /** Issue time in ms: lets revoke-user cut tokens issued earlier in the same second. */
  iat_ms?: number;
}

interface CachedPrincipal {
  principal: Principal | null; // null: user missing or disabled
  revokedAt: number; // ms, 0 when never revoked
  enabled: boolean;
  expires: number;
}

/**
 * An external password check (Okta, Keycloak...): the user it proved, or null when it does not know the
 * name/password. A DomainError it throws (say, "MFA code required") is passed to the caller.
 */
/**
 * The password chain of a login: the providers in their rows' order. `local` checks Pantera's own
 * password (so a chain decides where the local provider stands and whether it is asked at all).
 */
export type PasswordChain = (
  name: string,
  pass: string,
  mfaCode: string | undefined,
  local: () => Promise<{ id: string; name: string } | null>,
) => Promise<{ id: string; name: string } | null>;

export interface LoginOptions {
  /** The client's address, for per-address throttling. */
  ip?: string;
  mfaCode?: string;
}

export interface AuthResult {
  actor: Principal | null;
  error?: DomainError;
}

// Bounds how stale a node may be when Redis is absent (DB polling fallback).
const PRINCIPAL_TTL_MS = 5_000;
const API_TOKEN_TTL_MS = 5_000;
const PASSWORD_CACHE_TTL_MS = 60_000;

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export class AuthService {
  private principals = new Map<string, CachedPrincipal>();
  /** Verified API-token lookups by token hash. */
  private apiTokens = new Map<string, { userId: string; expiresAt: number | null; until: number }>();
  /** Verified name:password pairs (HMAC under a node-shared secret), so Basic auth does not re-run scrypt per request. */
  private passwords = new Map<string, { userId: string; until: number }>();
  /** Without one (tests of this service alone), a login checks the local password only. */
  private passwordChain?: PasswordChain;

  constructor(
    private prisma: PrismaClient,
    private keys: KeyStore,
    private settings: SettingsService,
    private bus: EventBus,
    private throttle: LoginThrottle = new LoginThrottle(settings, () => keys.hmacSecret),
  ) {
    bus.on((e) => {
      switch (e.type) {
        case "user.changed":
        case "user.revoked":
          if ("userId" in e && e.userId) this.forgetUser(e.userId);
          else this.forgetAll();
          break;
        case "role.changed":
          this.principals.clear();
          break;
        case "token.revoked":
          this.apiTokens.delete(e.tokenHash);
          break;
      }
    });
  }

  private forgetUser(userId: string) {
    this.principals.delete(userId);
    for (const [k, v] of this.apiTokens) if (v.userId === userId) this.apiTokens.delete(k);
    for (const [k, v] of this.passwords) if (v.userId === userId) this.passwords.delete(k);
  }

  private forgetAll() {
    this.principals.clear();
    this.apiTokens.clear();
    this.passwords.clear();
  }

  // ---- principals -------------------------------------------------------

  private async loadPrincipal(userId: string): Promise<CachedPrincipal> {
    const hit = this.principals.get(userId);
    if (hit && hit.expires > Date.now()) return hit;
    const read = await refreshOrStale(() => this.prisma.user.findUnique({ where: { id: userId }, include: { roles: { include: { role: true } } } }), hit);
    if ("stale" in read) return read.stale;
    const user = read.fresh;
    let entry: CachedPrincipal;
    if (!user) entry = { principal: null, revokedAt: 0, enabled: false, expires: Date.now() + PRINCIPAL_TTL_MS };
    else {
      const enabledRoles = user.roles.map((r) => r.role).filter((r) => r.enabled);
      entry = {
        principal: {
          userId: user.id,
          name: user.name,
          email: user.email,
          context: user.context,
          authType: user.authType,
          groups: user.groups,
          roles: user.roles.map((r) => r.role.name).sort(),
          permissions: new Permissions(user.enabled ? enabledRoles.map((r) => r.permissions as PermissionsJson) : []),
          via: "access",
        },
        revokedAt: user.tokensRevokedAt?.getTime() ?? 0,
        enabled: user.enabled,
        expires: Date.now() + PRINCIPAL_TTL_MS,
      };
    }
    this.principals.set(userId, entry);
    return entry;
  }

  /** The principal anonymous requests act as: the roles of a user named `anonymous`, if it exists. */
  async anonymous(): Promise<Principal> {
    const user = await this.prisma.user.findUnique({ where: { name: "anonymous" }, select: { id: true } });
    const loaded = user ? await this.loadPrincipal(user.id) : null;
    const base = loaded?.principal && loaded.enabled ? loaded.principal : null;
    return {
      userId: base?.userId ?? "",
      name: "anonymous",
      email: null,
      context: "anonymous",
      authType: "anonymous",
      groups: [],
      roles: base?.roles ?? [],
      permissions: base?.permissions ?? new Permissions([]),
      via: "anonymous",
    };
  }

  private async principalFor(userId: string, via: Principal["via"], issuedAtMs?: number): Promise<Principal> {
    const entry = await this.loadPrincipal(userId);
    if (!entry.principal) throw unauthorized("User no longer exists");
    if (!entry.enabled) throw unauthorized(`User '${entry.principal.name}' is disabled`);
    if (issuedAtMs !== undefined && entry.revokedAt && issuedAtMs <= entry.revokedAt) throw unauthorized("Token has been revoked");
    return { ...entry.principal, via };
  }

  // ---- tokens -----------------------------------------------------------

  private async sign(claims: TokenClaims, ttlSeconds: number | null): Promise<string> {
    const key = this.keys.signingKey();
    const now = Date.now();
    const jwt = new SignJWT({ uid: claims.uid, type: claims.type, iat_ms: now })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setIssuedAt(Math.floor(now / 1000))
      .setJti(claims.jti ?? randomUUID());
    if (ttlSeconds !== null) jwt.setExpirationTime(Math.floor(now / 1000) + ttlSeconds);
    return jwt.sign(key.privateKey);
  }

  private async verify(token: string): Promise<TokenClaims> {
    try {
      const { kid } = decodeProtectedHeader(token);
      const key = await this.keys.publicKey(kid);
      if (!key) throw unauthorized("Invalid token");
      const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ["RS256"] });
      if (typeof payload.sub !== "string" || typeof payload.uid !== "string" || typeof payload.type !== "string") {
        throw unauthorized("Invalid token");
      }
      return payload as unknown as TokenClaims;
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw unauthorized("Token expired");
      throw unauthorized("Invalid token");
    }
  }

  async issueAccessToken(user: { id: string; name: string }): Promise<{ token: string; expiresIn: number }> {
    const { access_token_expiry_seconds: ttl } = await this.settings.get("jwt");
    return { token: await this.sign({ sub: user.name, uid: user.id, type: "access" }, ttl), expiresIn: ttl };
  }

  private async issueSession(user: { id: string; name: string }) {
    const jwt = await this.settings.get("jwt");
    const access = await this.issueAccessToken(user);
    const id = randomUUID();
    const refresh = await this.sign({ sub: user.name, uid: user.id, type: "refresh", jti: id }, jwt.refresh_token_expiry_seconds);
    await this.prisma.refreshToken.create({
      data: { id, userId: user.id, tokenHash: sha256(refresh), expiresAt: new Date(Date.now() + jwt.refresh_token_expiry_seconds * 1000) },
    });
    return { token: access.token, refreshToken: refresh, expiresIn: access.expiresIn };
  }

  // ---- operations -------------------------------------------------------

  /** Sets the chain a password login goes through (the auth providers, in priority order). */
  usePasswordChain(chain: PasswordChain): void {
    this.passwordChain = chain;
  }

  /** Password login, throttled: through the provider chain, or the local password alone. */
  async login(name: string, pass: string, opts: LoginOptions = {}): Promise<{ token: string; refreshToken: string; expiresIn: number }> {
    if (!name || !pass) throw badRequest("Both 'name' and 'pass' are required");
    const chain = this.passwordChain;
    // A chain is asked every time (not the Basic cache): which providers may answer can change between logins.
    const user = chain
      ? await this.throttle.guard(name, opts.ip, () => chain(name, pass, opts.mfaCode, () => this.verifyLocal(name, pass)))
      : await this.checkPassword(name, pass, opts.ip);
    if (!user) throw unauthorized("Invalid credentials");
    return this.issueSession(user);
  }

  /** Issues a session for a user proven by an external identity provider. */
  async sessionFor(user: { id: string; name: string }) {
    return this.issueSession(user);
  }

  /**
   * A throttled local password check: a pair verified recently (cache) only needs the lockout check;
   * anything else is verified under the throttle, which counts the outcome.
   */
  private async checkPassword(name: string, pass: string, ip: string | undefined): Promise<{ id: string; name: string } | null> {
    const cacheKey = this.passwordCacheKey(name, pass);
    const hit = this.passwords.get(cacheKey);
    if (hit && hit.until > Date.now()) {
      const entry = await this.loadPrincipal(hit.userId);
      if (entry.principal && entry.enabled) {
        await this.throttle.success(name, await this.throttle.check(name, ip));
        return { id: hit.userId, name };
      }
    }
    return this.throttle.guard(name, ip, () => this.verifyLocal(name, pass));
  }

  private passwordCacheKey(name: string, pass: string): string {
    return createHmac("sha256", this.keys.hmacSecret).update(name).update("\0").update(pass).digest("base64");
  }

  /** The local password; unknown and disabled users pay the same scrypt (verifyPassword's dummy hash). */
  private async verifyLocal(name: string, pass: string): Promise<{ id: string; name: string } | null> {
    const user = await this.prisma.user.findUnique({ where: { name } });
    const ok = await verifyPassword(pass, user?.enabled ? user.passwordHash : null);
    if (!user || !ok) return null;
    this.passwords.set(this.passwordCacheKey(name, pass), { userId: user.id, until: Date.now() + PASSWORD_CACHE_TTL_MS });
    return user;
  }

  async refresh(refreshToken: string): Promise<{ token: string; expiresIn: number }> {
    if (!refreshToken) throw badRequest("'refresh_token' is required");
    let claims: TokenClaims;
    try {
      claims = await this.verify(refreshToken);
    } catch {
      throw unauthorized("Refresh token expired or revoked");
    }
    if (claims.type !== "refresh") throw unauthorized("Refresh token expired or revoked");
    const row = await this.prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) } });
    if (!row || row.revokedAt || row.expiresAt.getTime() <= Date.now()) throw unauthorized("Refresh token expired or revoked");
    const principal = await this.principalFor(row.userId, "access").catch(() => {
      throw unauthorized("Refresh token expired or revoked");
    });
    return this.issueAccessToken({ id: principal.userId, name: principal.name });
  }

  async generateApiToken(actor: Principal | null, label: string | null | undefined, expiryDays: number | null | undefined) {
    const me = requireActor(actor);
    const policy = await this.settings.get("jwt");
    const days = expiryDays ?? 30;
    if (!Number.isInteger(days) || days < 0) throw badRequest("'expiry_days' must be a non-negative integer");
    if (days === 0 && !policy.allow_permanent_tokens)
      throw badRequest("Permanent tokens are not allowed by the token policy; use expiry_days between 1 and " + policy.api_token_max_expiry_days);
    if (days > policy.api_token_max_expiry_days)
      throw badRequest(`'expiry_days' exceeds the maximum of ${policy.api_token_max_expiry_days} days allowed by the token policy`);
    const text = (label ?? "API Token").trim() || "API Token";
    if (text.length > 255) throw badRequest("'label' must be at most 255 characters");
    const id = randomUUID();
    const token = await this.sign({ sub: me.name, uid: me.userId, type: "api", jti: id }, days === 0 ? null : days * 86400);
    const expiresAt = days === 0 ? null : new Date(Date.now() + days * 86400_000);
    await this.prisma.apiToken.create({ data: { id, userId: me.userId, label: text, tokenHash: sha256(token), expiresAt } });
    return { token, id, label: text, expiresAt, permanent: days === 0 };
  }

  async listApiTokens(actor: Principal | null) {
    const me = requireActor(actor);
    const rows = await this.prisma.apiToken.findMany({ where: { userId: me.userId, revokedAt: null }, orderBy: { createdAt: "asc" } });
    const now = Date.now();
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      permanent: r.expiresAt === null,
      expired: r.expiresAt !== null && r.expiresAt.getTime() <= now,
    }));
  }

  async revokeApiToken(actor: Principal | null, id: string): Promise<void> {
    const me = requireActor(actor);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    // Someone else's token is reported as missing: its existence is not the caller's business.
    const row = uuid.test(id) ? await this.prisma.apiToken.findUnique({ where: { id } }) : null;
    if (!row || row.userId !== me.userId || row.revokedAt) throw notFound("Token not found");
    await this.prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    await this.bus.publish({ type: "token.revoked", tokenHash: row.tokenHash });
  }

  /** Revokes every refresh and API token of a user and cuts its live access tokens. */
  async revokeUser(actor: Principal | null, username: string): Promise<{ username: string; tokensRevoked: number }> {
    requireApi(actor, "api_user_permissions", "update");
    const user = await this.prisma.user.findUnique({ where: { name: username } });
    if (!user) throw notFound(`User '${username}' not found`);
    const now = new Date();
    const [refresh, api] = await this.prisma.$transaction([
      this.prisma.refreshToken.updateMany({ where: { userId: user.id, revokedAt: null, expiresAt: { gt: now } }, data: { revokedAt: now } }),
      this.prisma.apiToken.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: now } }),
      this.prisma.user.update({ where: { id: user.id }, data: { tokensRevokedAt: now } }),
    ]);
    await this.bus.publish({ type: "user.revoked", userId: user.id, at: now.getTime() });
    return { username, tokensRevoked: refresh.count + api.count };
  }

  // ---- request authentication ------------------------------------------

  /** Any Pantera token (access or API) to a principal; refresh tokens are not accepted here. */
  async authenticateToken(token: string): Promise<Principal> {
    const claims = await this.verify(token);
    if (claims.type === "access") return this.principalFor(claims.uid, "access", claims.iat_ms ?? (claims.iat ?? 0) * 1000);
    if (claims.type === "api") {
      const hash = sha256(token);
      let hit = this.apiTokens.get(hash);
      if (!hit || hit.until <= Date.now()) {
        const read = await refreshOrStale(() => this.prisma.apiToken.findUnique({ where: { tokenHash: hash } }), hit);
        const row =
          "stale" in read
            ? { userId: read.stale.userId, expiresAt: read.stale.expiresAt === null ? null : new Date(read.stale.expiresAt), revokedAt: null }
            : read.fresh;
        if (!row || row.revokedAt) {
          this.apiTokens.delete(hash);
          throw unauthorized("Token has been revoked");
        }
        hit = { userId: row.userId, expiresAt: row.expiresAt?.getTime() ?? null, until: Date.now() + API_TOKEN_TTL_MS };
        this.apiTokens.set(hash, hit);
      }
      if (hit.expiresAt !== null && hit.expiresAt <= Date.now()) throw unauthorized("Token expired");
      return this.principalFor(hit.userId, "api");
    }
    throw unauthorized("Refresh tokens cannot be used to authenticate requests");
  }

  /** Username + password, where the password may also be any of the user's tokens (Basic auth). Passwords are throttled. */
  async authenticateBasic(name: string, secret: string, opts: { ip?: string } = {}): Promise<Principal> {
    if (secret.split(".").length === 3 && secret.startsWith("ey")) {
      const p = await this.authenticateToken(secret).catch(() => null);
      if (p && p.name === name) return p;
    }
    const user = await this.checkPassword(name, secret, opts.ip);
    if (!user) throw unauthorized("Invalid credentials");
    return this.principalFor(user.id, "password");
  }

  /** Parses an Authorization header. Missing header: no actor, no error. */
  async authenticateHeader(header: string | undefined, opts: { ip?: string } = {}): Promise<AuthResult> {
    if (!header) return { actor: null };
    try {
      const space = header.indexOf(" ");
      const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
      const value = space < 0 ? "" : header.slice(space + 1).trim();
      if (scheme === "bearer" && value) return { actor: await this.authenticateToken(value) };
      if (scheme === "basic" && value) {
        const decoded = Buffer.from(value, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon < 0) throw unauthorized("Malformed Basic credentials");
        return { actor: await this.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1), opts) };
      }
      throw unauthorized("Unsupported Authorization scheme; use Bearer or Basic");
    } catch (err) {
      if (err instanceof DomainError) return { actor: null, error: err };
      throw err;
    }
  }
}
