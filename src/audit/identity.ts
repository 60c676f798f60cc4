// Who a request claims to be, read without verifying anything: the handler already verified the
// credentials (or rejected them, and then the claimed name is what a failed attempt records).

/** The `sub` (user name) of a Pantera JWT, or null for anything else. */
export function jwtSubject(token: unknown): string | null {
  if (typeof token !== "string") return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return typeof claims?.sub === "string" && claims.sub ? claims.sub : null;
  } catch {
    return null;
  }
}

/** The user name in an Authorization header: Basic's user part, or a Bearer JWT's subject. */
export function claimedUser(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(" ");
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") return jwtSubject(value);
  if (scheme !== "basic") return null;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? decoded.slice(0, colon) : null;
}
