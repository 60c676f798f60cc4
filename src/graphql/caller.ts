import type { Principal } from "../auth/permissions.js";
import type { RequestContext } from "./context.js";

/** The caller of a protected operation; credentials that were sent but failed are reported as such. */
export function caller(ctx: RequestContext): Principal | null {
  if (ctx.authError) throw ctx.authError;
  return ctx.actor;
}
