// Sections 1-3 and 13: authentication, current user, API tokens, admin auth settings.
import Router from "@koa/router";
import * as Ops from "../generated/graphql.js";
import { run } from "../run.js";
import { field, jsonBody, noContent, queryString } from "../http.js";

const withoutNulls = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

export function authRoutes(router: Router) {
  router.post("/auth/token", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const { login } = await run(ctx, Ops.LoginDocument, { name: field(body, "name"), pass: field(body, "pass"), mfaCode: field(body, "mfa_code") });
    ctx.body = { token: login.token, refresh_token: login.refreshToken, expires_in: login.expiresIn };
  });

  router.post("/auth/refresh", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const { refreshToken } = await run(ctx, Ops.RefreshTokenDocument, { refreshToken: field(body, "refresh_token") });
    ctx.body = { token: refreshToken.token, expires_in: refreshToken.expiresIn };
  });

  router.get("/auth/providers", async (ctx) => {
    const { authProviders } = await run(ctx, Ops.AuthProvidersDocument);
    ctx.body = { providers: authProviders.map((p) => ({ type: p.type, enabled: p.enabled })) };
  });

  router.get("/auth/providers/:name/redirect", async (ctx) => {
    const { ssoRedirect } = await run(ctx, Ops.SsoRedirectDocument, { provider: ctx.params.name, callbackUrl: queryString(ctx, "callback_url") ?? "" });
    ctx.body = ssoRedirect;
  });

  router.post("/auth/callback", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const { ssoCallback } = await run(ctx, Ops.SsoCallbackDocument, {
      provider: field(body, "provider"),
      code: field(body, "code"),
      callbackUrl: field(body, "callback_url"),
      state: field(body, "state"),
    });
    ctx.body = { token: ssoCallback.token, refresh_token: ssoCallback.refreshToken, expires_in: ssoCallback.expiresIn };
  });

  router.get("/auth/me", async (ctx) => {
    const { me } = await run(ctx, Ops.MeDocument);
    ctx.body = { name: me.name, context: me.context, ...(me.email ? { email: me.email } : {}), groups: me.groups, permissions: me.permissions };
  });

  router.post("/auth/token/generate", async (ctx) => {
    const body = await jsonBody(ctx);
    const { generateApiToken: t } = await run(ctx, Ops.GenerateApiTokenDocument, { label: field(body, "label"), expiryDays: field(body, "expiry_days") });
    ctx.body = { token: t.token, id: t.id, label: t.label, ...(t.expiresAt ? { expires_at: t.expiresAt } : {}), permanent: t.permanent };
  });

  router.get("/auth/tokens", async (ctx) => {
    const { apiTokens } = await run(ctx, Ops.ApiTokensDocument);
    ctx.body = {
      tokens: apiTokens.map((t) =>
        t.permanent
          ? { id: t.id, label: t.label, created_at: t.createdAt, permanent: true }
          : { id: t.id, label: t.label, created_at: t.createdAt, expires_at: t.expiresAt, expired: t.expired },
      ),
    };
  });

  router.delete("/auth/tokens/:tokenId", async (ctx) => {
    await run(ctx, Ops.RevokeApiTokenDocument, { id: ctx.params.tokenId });
    noContent(ctx);
  });

  router.get("/admin/auth-settings", async (ctx) => {
    const { authSettings: s } = await run(ctx, Ops.AuthSettingsDocument);
    ctx.body = {
      access_token_expiry_seconds: s.accessTokenExpirySeconds,
      refresh_token_expiry_seconds: s.refreshTokenExpirySeconds,
      api_token_max_expiry_days: s.apiTokenMaxExpiryDays,
      allow_permanent_tokens: s.allowPermanentTokens,
      // Throttle fields appear once set, so the documented body is unchanged by default.
      ...withoutNulls({
        login_max_failures_per_user: s.loginMaxFailuresPerUser,
        login_max_failures_per_address: s.loginMaxFailuresPerAddress,
        login_failure_window_seconds: s.loginFailureWindowSeconds,
        login_lockout_seconds: s.loginLockoutSeconds,
        login_lockout_max_seconds: s.loginLockoutMaxSeconds,
      }),
    };
  });

  router.put("/admin/auth-settings", async (ctx) => {
    const body = await jsonBody(ctx, { required: true });
    const { updateAuthSettings } = await run(ctx, Ops.UpdateAuthSettingsDocument, {
      input: {
        accessTokenExpirySeconds: field(body, "access_token_expiry_seconds"),
        refreshTokenExpirySeconds: field(body, "refresh_token_expiry_seconds"),
        apiTokenMaxExpiryDays: field(body, "api_token_max_expiry_days"),
        allowPermanentTokens: field(body, "allow_permanent_tokens"),
        loginMaxFailuresPerUser: field(body, "login_max_failures_per_user"),
        loginMaxFailuresPerAddress: field(body, "login_max_failures_per_address"),
        loginFailureWindowSeconds: field(body, "login_failure_window_seconds"),
        loginLockoutSeconds: field(body, "login_lockout_seconds"),
        loginLockoutMaxSeconds: field(body, "login_lockout_max_seconds"),
      },
    });
    ctx.body = updateAuthSettings;
  });

  router.post("/admin/revoke-user/:username", async (ctx) => {
    const { revokeUser: r } = await run(ctx, Ops.RevokeUserDocument, { username: ctx.params.username });
    ctx.body = { status: r.status, username: r.username, tokens_revoked: r.tokensRevoked };
  });
}
