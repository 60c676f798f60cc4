// The OpenID Connect client side shared by the SSO flow and the password providers: endpoints of
// an okta/keycloak provider row, token-endpoint requests, id_token verification, PKCE.
import { createHash, randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import type { ExternalClaims } from "./identities.js";

export type ProviderConfig = Record<string, unknown>;

export const str = (c: ProviderConfig, k: string) => (typeof c[k] === "string" && (c[k] as string).length > 0 ? (c[k] as string) : undefined);

export interface OidcEndpoints {
  issuer: string;
  auth: string;
  token: string;
  jwks: string;
}

/** OIDC endpoints: explicit config wins, else the provider's conventional layout under its issuer. */
export function endpoints(type: string, c: ProviderConfig): OidcEndpoints | undefined {
  const issuer = str(c, "issuer")?.replace(/\/+$/, "");
  if (!issuer) return undefined;
  const okta = issuer.includes("/oauth2/") ? issuer : `${issuer}/oauth2`;
  const conventional =
    type === "keycloak"
      ? {
          auth: `${issuer}/protocol/openid-connect/auth`,
          token: `${issuer}/protocol/openid-connect/token`,
          jwks: `${issuer}/protocol/openid-connect/certs`,
        }
      : { auth: `${okta}/v1/authorize`, token: `${okta}/v1/token`, jwks: `${okta}/v1/keys` };
  return {
    issuer,
    auth: str(c, "authorization-endpoint") ?? conventional.auth,
    token: str(c, "token-endpoint") ?? conventional.token,
    jwks: str(c, "jwks-uri") ?? conventional.jwks,
  };
}

/** Why an IdP exchange failed, in words safe to show a caller: no upstream body, no secret. */
export class OidcError extends Error {
  constructor(
    message: string,
    /** "unreachable": the IdP did not answer (a password chain moves on); "rejected": it said no. */
    readonly kind: "unreachable" | "rejected" | "invalid",
  ) {
    super(message);
  }
}

const UPSTREAM_TIMEOUT_MS = 15_000;

/** fetch() that turns network failures and timeouts into OidcError("unreachable"). */
export async function upstream(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
  } catch {
    throw new OidcError("the identity provider could not be reached", "unreachable");
  }
}

/**
 * POSTs a token request (client_secret_post, or a public client without a secret) and returns the
 * id_token. Only the OAuth error code (a fixed token such as invalid_grant) reaches the message.
 */
export async function tokenRequest(ep: OidcEndpoints, c: ProviderConfig, params: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({ ...params, client_id: str(c, "client-id") ?? "" });
  const secret = str(c, "client-secret");
  if (secret) body.set("client_secret", secret);
  const res = await upstream(ep.token, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body,
  });
  const json = (await res.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
  if (res.status >= 500) throw new OidcError(`the token endpoint answered ${res.status}`, "unreachable");
  if (!res.ok) {
    const code = typeof json.error === "string" && /^[a-z_]{1,40}$/.test(json.error) ? json.error : `status ${res.status}`;
    throw new OidcError(`the token endpoint refused the request (${code})`, "rejected");
  }
  if (typeof json.id_token !== "string") throw new OidcError("the token endpoint returned no id_token", "invalid");
  return json.id_token;
}

// One key set per JWKS URL: jose caches the keys and refetches on an unknown kid.
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function keySet(url: string) {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000 });
    keySets.set(url, set);
  }
  return set;
}

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/**
 * Verifies signature (the IdP's JWKS, asymmetric algorithms only), issuer, audience, expiry and,
 * when one was sent, the nonce; returns the identity the token proves.
 */
export async function verifyIdToken(idToken: string, ep: OidcEndpoints, c: ProviderConfig, nonce?: string): Promise<ExternalClaims> {
  const clientId = str(c, "client-id") ?? "";
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(idToken, keySet(ep.jwks), {
      issuer: ep.issuer,
      audience: clientId,
      algorithms: ASYMMETRIC,
      requiredClaims: ["sub", "exp", "iat"],
      clockTolerance: 30,
    }));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new OidcError(`the id_token is invalid${code ? ` (${code})` : ""}`, "invalid");
  }
  // Several audiences: the token must have been issued to us (OIDC Core 3.1.3.7, azp).
  if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp !== clientId) {
    throw new OidcError("the id_token was issued to another client", "invalid");
  }
  if (nonce !== undefined && claims.nonce !== nonce) throw new OidcError("the id_token's nonce does not match the login", "invalid");
  const subject = claims.sub;
  if (typeof subject !== "string" || !subject) throw new OidcError("the id_token carries no subject", "invalid");
  const username = [claims.preferred_username, claims.email, subject].find((v): v is string => typeof v === "string" && v.length > 0)!;
  const groupsClaim = claims[str(c, "groups-claim") ?? "groups"];
  return {
    subject,
    username,
    email: typeof claims.email === "string" ? claims.email : undefined,
    groups: Array.isArray(groupsClaim) ? groupsClaim.map(String) : [],
  };
}

export const randomToken = (bytes: number) => randomBytes(bytes).toString("base64url");
export const pkceChallenge = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");
