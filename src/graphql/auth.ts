// Authentication, current user, API tokens, token policy, SSO.
import { builder, StatusRef } from "./builder.js";
import { caller } from "./caller.js";
import { requireActor } from "../auth/permissions.js";
import { linkExternalIdentity } from "../auth/identities.js";
import { LOGIN_THROTTLE_DEFAULTS, type JwtSettings } from "../settings/service.js";

const Session = builder.objectRef<{ token: string; refreshToken: string; expiresIn: number }>("Session").implement({
  description: "Access token plus refresh token issued by a login",
  fields: (t) => ({
    token: t.exposeString("token"),
    refreshToken: t.exposeString("refreshToken"),
    expiresIn: t.exposeInt("expiresIn", { description: "Access token lifetime in seconds" }),
  }),
});

const AccessToken = builder.objectRef<{ token: string; expiresIn: number }>("AccessToken").implement({
  fields: (t) => ({ token: t.exposeString("token"), expiresIn: t.exposeInt("expiresIn") }),
});

const CurrentUser = builder
  .objectRef<{ name: string; context: string; email: string | null; groups: string[]; permissions: unknown; roles: string[] }>("CurrentUser")
  .implement({
    fields: (t) => ({
      name: t.exposeString("name"),
      context: t.exposeString("context"),
      email: t.exposeString("email", { nullable: true }),
      groups: t.exposeStringList("groups"),
      roles: t.exposeStringList("roles"),
      permissions: t.field({ type: "JSON", description: "Resolved API permission domains and can_delete_artifacts", resolve: (u) => u.permissions }),
    }),
  });

const GeneratedApiToken = builder
  .objectRef<{ token: string; id: string; label: string; expiresAt: Date | null; permanent: boolean }>("GeneratedApiToken")
  .implement({
    fields: (t) => ({
      token: t.exposeString("token", { description: "The token value; shown once" }),
      id: t.exposeID("id"),
      label: t.exposeString("label"),
      expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
      permanent: t.exposeBoolean("permanent"),
    }),
  });

const ApiTokenInfo = builder
  .objectRef<{ id: string; label: string; createdAt: Date; expiresAt: Date | null; permanent: boolean; expired: boolean }>("ApiTokenInfo")
  .implement({
    fields: (t) => ({
      id: t.exposeID("id"),
      label: t.exposeString("label"),
      createdAt: t.expose("createdAt", { type: "DateTime" }),
      expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
      permanent: t.exposeBoolean("permanent"),
      expired: t.exposeBoolean("expired"),
    }),
  });

const AuthSettings = builder.objectRef<JwtSettings>("AuthSettings").implement({
  description: "Token policy and login throttling (throttle fields are null until set: the default applies)",
  fields: (t) => ({
    accessTokenExpirySeconds: t.exposeInt("access_token_expiry_seconds"),
    refreshTokenExpirySeconds: t.exposeInt("refresh_token_expiry_seconds"),
    apiTokenMaxExpiryDays: t.exposeInt("api_token_max_expiry_days"),
    allowPermanentTokens: t.exposeBoolean("allow_permanent_tokens"),
    loginMaxFailuresPerUser: t.exposeInt("login_max_failures_per_user", {
      nullable: true,
      description: `Failed logins of one user name before it is locked out (default ${LOGIN_THROTTLE_DEFAULTS.login_max_failures_per_user})`,
    }),
    loginMaxFailuresPerAddress: t.exposeInt("login_max_failures_per_address", {
      nullable: true,
      description: `Failed logins from one client address before it is locked out (default ${LOGIN_THROTTLE_DEFAULTS.login_max_failures_per_address})`,
    }),
    loginFailureWindowSeconds: t.exposeInt("login_failure_window_seconds", {
      nullable: true,
      description: `Failures are forgotten this long after the last one (default ${LOGIN_THROTTLE_DEFAULTS.login_failure_window_seconds})`,
    }),
    loginLockoutSeconds: t.exposeInt("login_lockout_seconds", {
      nullable: true,
      description: `First lockout; it doubles with each further failure (default ${LOGIN_THROTTLE_DEFAULTS.login_lockout_seconds})`,
    }),
    loginLockoutMaxSeconds: t.exposeInt("login_lockout_max_seconds", {
      nullable: true,
      description: `Longest lockout (default ${LOGIN_THROTTLE_DEFAULTS.login_lockout_max_seconds})`,
    }),
  }),
});

const AuthSettingsInput = builder.inputType("AuthSettingsInput", {
  fields: (t) => ({
    accessTokenExpirySeconds: t.int(),
    refreshTokenExpirySeconds: t.int(),
    apiTokenMaxExpiryDays: t.int(),
    allowPermanentTokens: t.boolean(),
    loginMaxFailuresPerUser: t.int(),
    loginMaxFailuresPerAddress: t.int(),
    loginFailureWindowSeconds: t.int(),
    loginLockoutSeconds: t.int(),
    loginLockoutMaxSeconds: t.int(),
  }),
});

const UserRevocation = builder.objectRef<{ username: string; tokensRevoked: number }>("UserRevocation").implement({
  fields: (t) => ({ status: t.string({ resolve: () => "revoked" }), username: t.exposeString("username"), tokensRevoked: t.exposeInt("tokensRevoked") }),
});

builder.prismaObject("AuthProvider", {
  fields: (t) => ({
    id: t.exposeInt("id"),
    type: t.exposeString("type"),
    priority: t.exposeInt("priority"),
    enabled: t.exposeBoolean("enabled"),
  }),
});

const SsoRedirect = builder.objectRef<{ url: string; state: string }>("SsoRedirect").implement({
  fields: (t) => ({ url: t.exposeString("url"), state: t.exposeString("state") }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: CurrentUser,
    description: "The authenticated caller with resolved permissions",
    resolve: (_r, _a, ctx) => {
      const me = requireActor(caller(ctx));
      return { name: me.name, context: me.context, email: me.email, groups: me.groups, roles: me.roles, permissions: me.permissions.toJSON() };
    },
  }),
  apiTokens: t.field({
    type: [ApiTokenInfo],
    description: "The caller's API tokens (values are never returned)",
    resolve: (_r, _a, ctx) => ctx.app.auth.listApiTokens(caller(ctx)),
  }),
  authProviders: t.prismaField({
    type: ["AuthProvider"],
    description: "Configured authentication providers, in priority order (public)",
    resolve: (query, _r, _a, ctx) => ctx.app.authProviders.list(query),
  }),
  authSettings: t.field({
    type: AuthSettings,
    resolve: (_r, _a, ctx) => ctx.app.tokenPolicy.get(caller(ctx)),
  }),
  ssoRedirect: t.field({
    type: SsoRedirect,
    description: "Authorization URL of an SSO provider (public)",
    args: { provider: t.arg.string({ required: true }), callbackUrl: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.authProviders.redirect(a.provider, a.callbackUrl),
  }),
}));

builder.mutationFields((t) => ({
  login: t.field({
    type: Session,
    description: "Password login (public)",
    args: { name: t.arg.string({ required: true }), pass: t.arg.string({ required: true }), mfaCode: t.arg.string() },
    resolve: (_r, a, ctx) => ctx.app.auth.login(a.name, a.pass, { ip: ctx.ip, mfaCode: a.mfaCode ?? undefined }),
  }),
  refreshToken: t.field({
    type: AccessToken,
    description: "Exchange a refresh token for a new access token (public)",
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.auth.refresh(a.refreshToken),
  }),
  ssoCallback: t.field({
    type: Session,
    description: "Exchange an SSO authorization code for a session (public)",
    args: {
      provider: t.arg.string({ required: true }),
      code: t.arg.string({ required: true }),
      callbackUrl: t.arg.string({ required: true }),
      state: t.arg.string({ description: "The state of the redirect; when given it must be one Pantera issued, unused (required by require-state)" }),
    },
    resolve: (_r, a, ctx) => ctx.app.authProviders.callback(a.provider, a.code, a.callbackUrl, a.state),
  }),
  linkExternalIdentity: t.boolean({
    description: "Let an IdP account (provider okta or keycloak, its id_token subject) sign in as an existing user; needs api_user_permissions:update",
    args: { username: t.arg.string({ required: true }), provider: t.arg.string({ required: true }), subject: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await linkExternalIdentity(ctx.app.db.prisma, ctx.app.bus, caller(ctx), a.username, a.provider, a.subject);
      return true;
    },
  }),
  generateApiToken: t.field({
    type: GeneratedApiToken,
    args: { label: t.arg.string(), expiryDays: t.arg.int() },
    resolve: (_r, a, ctx) => ctx.app.auth.generateApiToken(caller(ctx), a.label, a.expiryDays),
  }),
  revokeApiToken: t.boolean({
    args: { id: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.auth.revokeApiToken(caller(ctx), a.id);
      return true;
    },
  }),
  updateAuthSettings: t.field({
    type: StatusRef,
    args: { input: t.arg({ type: AuthSettingsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      await ctx.app.tokenPolicy.update(caller(ctx), {
        access_token_expiry_seconds: input.accessTokenExpirySeconds,
        refresh_token_expiry_seconds: input.refreshTokenExpirySeconds,
        api_token_max_expiry_days: input.apiTokenMaxExpiryDays,
        allow_permanent_tokens: input.allowPermanentTokens,
        login_max_failures_per_user: input.loginMaxFailuresPerUser,
        login_max_failures_per_address: input.loginMaxFailuresPerAddress,
        login_failure_window_seconds: input.loginFailureWindowSeconds,
        login_lockout_seconds: input.loginLockoutSeconds,
        login_lockout_max_seconds: input.loginLockoutMaxSeconds,
      });
      return { status: "saved" };
    },
  }),
  revokeUser: t.field({
    type: UserRevocation,
    description: "Revoke every token of a user, effective at once on every node",
    args: { username: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.auth.revokeUser(caller(ctx), a.username),
  }),
}));
