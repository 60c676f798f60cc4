// The npm client's account endpoints: whoami, `npm login` (legacy couch login: a user name and
// password become an API token), `npm logout` (the token is revoked) and the web login it tries first.
import type { Principal } from "../../auth/permissions.js";
import { DomainError, badRequest, notFound, unauthorized } from "../../errors.js";
import { readJson } from "../kit/body.js";
import type { FormatRequest, Reply } from "../kit/contract.js";
import type { Json } from "./packument.js";

/** The parts of the auth service npm's login and logout use. */
export interface NpmAuth {
  authenticateBasic(name: string, secret: string, opts?: { ip?: string }): Promise<Principal>;
  generateApiToken(actor: Principal, label: string, expiryDays: number | null): Promise<{ token: string }>;
  revokeApiToken(actor: Principal, id: string): Promise<void>;
}

/** GET /-/whoami */
export function whoami(req: FormatRequest): Reply {
  if (req.actor.via === "anonymous") throw unauthorized();
  return { status: 200, body: { username: req.actor.name } };
}

/** PUT /-/user/org.couchdb.user:<name> */
export async function login(auth: NpmAuth, req: FormatRequest): Promise<Reply> {
  const user = req.params.user;
  const body = (await readJson(req, 64 * 1024)) as Json;
  const name = typeof body?.name === "string" ? body.name : user;
  const password = body?.password;
  if (typeof password !== "string" || !password) throw badRequest("'password' is required");
  if (name !== user) throw badRequest("User name in the body does not match the URL");
  let principal: Principal;
  try {
    principal = await auth.authenticateBasic(name, password, { ip: req.ip });
  } catch (err) {
    if (err instanceof DomainError && err.code === "TOO_MANY_REQUESTS") throw err;
    throw unauthorized("Invalid user name or password; users are created through the management API");
  }
  const token = await auth.generateApiToken(principal, `npm login (${req.repo.name})`, null);
  return { status: 201, body: { ok: true, id: `org.couchdb.user:${name}`, rev: "1", token: token.token } };
}

/** DELETE /-/user/token/<token> */
export async function logout(auth: NpmAuth, req: FormatRequest): Promise<Reply> {
  if (req.actor.via === "anonymous") throw unauthorized();
  // API tokens carry their id as `jti`; revoke it when the token is the caller's own.
  try {
    const claims = JSON.parse(Buffer.from(req.params.token.split(".")[1] ?? "", "base64url").toString("utf8"));
    if (claims?.type === "api" && typeof claims.jti === "string") await auth.revokeApiToken(req.actor, claims.jti);
  } catch {
    /* not one of ours or already revoked: nothing to do */
  }
  return { status: 200, body: { ok: true } };
}

/** /-/v1/login: no web login flow; the client falls back to user/password (couch) login. */
export function webLogin(): never {
  throw notFound("Web login is not supported; use --auth-type=legacy");
}
