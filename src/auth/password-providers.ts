// Password logins at external providers, for POST /auth/token after the local check.
//   keycloak: the direct-access grant (grant_type=password) at the realm's token endpoint.
//   okta: the Authn API (POST /api/v1/authn, then a TOTP factor's verify with mfa_code), and the
//         session token traded for a code at the authorize endpoint, then for an id_token.
// Each returns the identity the verified id_token proves, or null when the provider says the
// credentials are wrong or is not configured for password logins; an OidcError when it is down.
import { unauthorized } from "../errors.js";
import type { ExternalClaims } from "./identities.js";
import { endpoints, OidcError, pkceChallenge, randomToken, str, tokenRequest, upstream, verifyIdToken, type ProviderConfig } from "./oidc.js";

const scopeOf = (c: ProviderConfig) => str(c, "scope") ?? "openid profile email";

export async function keycloakPassword(c: ProviderConfig, username: string, password: string): Promise<ExternalClaims | null> {
  const ep = endpoints("keycloak", c);
  if (!ep || !str(c, "client-id")) return null;
  let idToken: string;
  try {
    idToken = await tokenRequest(ep, c, { grant_type: "password", username, password, scope: scopeOf(c) });
  } catch (err) {
    // invalid_grant is Keycloak's answer to a wrong password; any refusal means "not this provider".
    if (err instanceof OidcError && err.kind === "rejected") return null;
    throw err;
  }
  return verifyIdToken(idToken, ep, c);
}

interface AuthnTransaction {
  status?: string;
  sessionToken?: string;
  stateToken?: string;
  _embedded?: { factors?: { id?: string; factorType?: string }[] };
}

async function authnPost(url: string, body: object): Promise<{ status: number; tx: AuthnTransaction }> {
  const res = await upstream(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status >= 500) throw new OidcError(`the Okta Authn API answered ${res.status}`, "unreachable");
  const tx = (await res.json().catch(() => ({}))) as AuthnTransaction;
  return { status: res.status, tx };
}

export async function oktaPassword(c: ProviderConfig, username: string, password: string, mfaCode?: string): Promise<ExternalClaims | null> {
  const ep = endpoints("okta", c);
  const redirectUri = str(c, "redirect-uri");
  if (!ep || !str(c, "client-id") || !redirectUri) return null;
  // The Authn API lives at the org, not under the authorization server of the issuer.
  const org = (str(c, "org-url") ?? new URL(ep.issuer).origin).replace(/\/+$/, "");
  let { status, tx } = await authnPost(`${org}/api/v1/authn`, { username, password });
  if (status === 401 || status === 403) return null; // E0000004 Authentication failed
  if (status !== 200) throw new OidcError(`the Okta Authn API refused the request (status ${status})`, "rejected");
  if (tx.status === "MFA_REQUIRED") {
    const factor = tx._embedded?.factors?.find((f) => f.factorType === "token:software:totp" && typeof f.id === "string");
    if (!factor) throw unauthorized("Okta requires an MFA factor other than a TOTP code, which password login cannot answer");
    if (!mfaCode) throw unauthorized("MFA code required: send 'mfa_code'");
    // Built from the org rather than followed from the answer's links, so the state token goes nowhere else.
    const verifyUrl = `${org}/api/v1/authn/factors/${encodeURIComponent(factor.id!)}/verify`;
    ({ status, tx } = await authnPost(verifyUrl, { stateToken: tx.stateToken, passCode: mfaCode }));
    if (status === 401 || status === 403) throw unauthorized("Invalid MFA code");
    if (status !== 200) throw new OidcError(`the Okta Authn API refused the MFA code (status ${status})`, "rejected");
  }
  if (tx.status !== "SUCCESS" || typeof tx.sessionToken !== "string") {
    const step = typeof tx.status === "string" && /^[A-Z_]{1,40}$/.test(tx.status) ? tx.status : "unknown";
    throw unauthorized(`Okta sign-in needs a step password login cannot complete (${step})`);
  }
  return exchangeSessionToken(ep, c, redirectUri, tx.sessionToken);
}

/** The session token at the authorize endpoint (with state, nonce and PKCE like any login) yields a code. */
async function exchangeSessionToken(ep: NonNullable<ReturnType<typeof endpoints>>, c: ProviderConfig, redirectUri: string, sessionToken: string) {
  const state = randomToken(16);
  const nonce = randomToken(16);
  const verifier = randomToken(32);
  const url = new URL(ep.auth);
  for (const [k, v] of Object.entries({
    client_id: str(c, "client-id")!,
    response_type: "code",
    scope: scopeOf(c),
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: pkceChallenge(verifier),
    code_challenge_method: "S256",
    sessionToken,
  })) {
    url.searchParams.set(k, v);
  }
  const res = await upstream(url.toString(), { redirect: "manual" });
  await res.body?.cancel();
  const location = res.headers.get("location");
  if (res.status >= 500) throw new OidcError(`the authorize endpoint answered ${res.status}`, "unreachable");
  if (!location) throw new OidcError(`the authorize endpoint answered ${res.status} without a redirect`, "rejected");
  const back = new URL(location, url);
  const code = back.searchParams.get("code");
  if (back.searchParams.get("state") !== state || !code) {
    const error = back.searchParams.get("error");
    throw new OidcError(`the authorize endpoint returned no code${error && /^[a-z_]{1,40}$/.test(error) ? ` (${error})` : ""}`, "rejected");
  }
  const idToken = await tokenRequest(ep, c, { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier });
  return verifyIdToken(idToken, ep, c, nonce);
}
