// A real OpenID Provider for the SSO and password-provider tests: oidc-provider 8 (signed tokens,
// codes that are single use, PKCE, nonce), laid out like Okta (issuer /oauth2/default, /v1/...)
// or like Keycloak (issuer /realms/x, /protocol/openid-connect/...), and a browser that drives its
// login and consent pages the way a user would.
import http from "node:http";
import { randomUUID } from "node:crypto";
import Provider, { errors as opErrors } from "oidc-provider";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { listenLocal } from "./server.js";

export interface OpAccount {
  sub: string;
  username: string;
  /** For the password grant (Keycloak's direct access); the browser login takes any password. */
  password?: string;
  email?: string;
  groups?: string[];
}

export interface TestOpOptions {
  style: "okta" | "keycloak";
  clientId?: string;
  clientSecret?: string;
  redirectUris?: string[];
  accounts: OpAccount[];
  /** The OP refuses authorization requests without a code_challenge. */
  pkceRequired?: boolean;
  /** Registers grant_type=password, as Keycloak's direct-access grant (oidc-provider has none built in). */
  passwordGrant?: boolean;
}

export interface TestOp {
  issuer: string;
  origin: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, OpAccount>;
  /** Every authorization request the OP received (its query carries state, nonce, code_challenge). */
  authorizeRequests: URL[];
  /** Parameters of each successful token request (code_verifier when PKCE was used). */
  grants: Record<string, string | undefined>[];
  /** The OP's own errors (e.g. invalid_grant for a replayed code or a wrong verifier). */
  grantErrors: string[];
  /** A token signed with the OP's own key (published in its JWKS), for claims a correct OP would never issue. */
  signIdToken(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

const LAYOUT = {
  okta: { prefix: "/oauth2/default", routes: { authorization: "/v1/authorize", token: "/v1/token", jwks: "/v1/keys", userinfo: "/v1/userinfo" } },
  keycloak: {
    prefix: "/realms/x",
    routes: {
      authorization: "/protocol/openid-connect/auth",
      token: "/protocol/openid-connect/token",
      jwks: "/protocol/openid-connect/certs",
      userinfo: "/protocol/openid-connect/userinfo",
    },
  },
};

export async function startOp(opts: TestOpOptions): Promise<TestOp> {
  const layout = LAYOUT[opts.style];
  const clientId = opts.clientId ?? "pantera";
  const clientSecret = opts.clientSecret ?? "s3cret-" + randomUUID();
  const accounts = new Map(opts.accounts.map((a) => [a.sub, a]));
  const authorizeRequests: URL[] = [];
  const grants: Record<string, string | undefined>[] = [];
  const grantErrors: string[] = [];
  let handler: http.RequestListener = (_req, res) => res.end();
  const server = http.createServer((req, res) => handler(req, res));
  const listening = await listenLocal(server);
  const issuer = listening.url + layout.prefix;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "test-" + randomUUID(), alg: "RS256", use: "sig" };
  const claimsOf = (a: OpAccount) => ({ sub: a.sub, preferred_username: a.username, email: a.email, groups: a.groups ?? [] });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris ?? ["http://ui.test/callback"],
        grant_types: ["authorization_code", ...(opts.passwordGrant ? ["password"] : [])],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    jwks: { keys: [jwk] },
    routes: layout.routes,
    cookies: { keys: ["test-cookie-key"] },
    claims: { openid: ["sub"], profile: ["preferred_username", "groups"], email: ["email"] },
    // Profile claims in the id_token itself, as Okta and Keycloak put them.
    conformIdTokenClaims: false,
    pkce: { methods: ["S256"], required: () => opts.pkceRequired === true },
    features: { devInteractions: { enabled: true } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${layout.prefix}/interaction/${interaction.uid}` },
    findAccount: async (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      return a && { accountId: sub, claims: async () => claimsOf(a) };
    },
  });
  provider.on("grant.success", (ctx: { oidc: { params: Record<string, string | undefined> } }) => grants.push({ ...ctx.oidc.params }));
  provider.on("grant.error", (_ctx: unknown, err: { error?: string; error_description?: string }) => {
    grantErrors.push(`${err.error}: ${err.error_description}`);
  });

  if (opts.passwordGrant) {
    provider.registerGrantType(
      "password",
      async (ctx: any, next: () => Promise<void>) => {
        const { username, password } = ctx.oidc.params;
        const account = [...accounts.values()].find((a) => a.username === username && a.password !== undefined && a.password === password);
        if (!account) throw new opErrors.InvalidGrant("invalid user credentials");
        const token = new provider.IdToken(claimsOf(account), { ctx });
        token.scope = "openid profile email";
        ctx.body = { access_token: randomUUID(), token_type: "Bearer", expires_in: 300, id_token: await token.issue({ use: "idtoken" }) };
        await next();
      },
      ["username", "password", "scope"],
    );
  }

  const callback = provider.callback();
  handler = (req, res) => {
    const url = new URL(req.url ?? "/", listening.url);
    if (url.pathname === layout.prefix + layout.routes.authorization) authorizeRequests.push(url);
    // Mounted under the issuer's path, as express would: oidc-provider reads the mount from originalUrl.
    if (url.pathname.startsWith(layout.prefix + "/")) {
      (req as { originalUrl?: string }).originalUrl = req.url;
      req.url = req.url!.slice(layout.prefix.length);
    }
    callback(req, res);
  };
  return {
    issuer,
    origin: listening.url,
    clientId,
    clientSecret,
    accounts,
    authorizeRequests,
    grants,
    grantErrors,
    signIdToken: (claims) => new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: jwk.kid }).sign(privateKey),
    close: listening.close,
  };
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, "&")
    .replace(/&#x2F;/g, "/")
    .replace(/&#x3D;/g, "=")
    .replace(/&quot;/g, '"');

/**
 * Opens `authorizationUrl` like a browser (cookies, redirects), signs in as `login` (the account's
 * sub) on the OP's login page, confirms consent, and returns the URL the OP sent the browser back
 * to (the callback with `code` and `state`, or with `error`).
 */
export async function browserLogin(authorizationUrl: string, login: string, callbackUrl: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  let form: URLSearchParams | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const headers: Record<string, string> = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") };
    if (form) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(url, { method: form ? "POST" : "GET", body: form?.toString(), headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0];
      const eq = pair.indexOf("=");
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (!value || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get("location");
    if (location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.href.startsWith(callbackUrl)) return next;
      url = next.href;
      form = undefined;
      continue;
    }
    const html = await res.text();
    const m = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
    if (res.status !== 200 || !m) throw new Error(`the OP answered ${res.status} without a form: ${html.slice(0, 800)}`);
    form = new URLSearchParams();
    for (const input of m[2].matchAll(/<input[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input[0])?.[1];
      if (name) form.set(name, unescapeHtml(/value="([^"]*)"/.exec(input[0])?.[1] ?? ""));
    }
    if (form.has("login")) {
      form.set("login", login);
      form.set("password", "any");
    }
    url = new URL(unescapeHtml(m[1]), url).href;
  }
  throw new Error("too many redirects at the OP");
}
