// The audit trail: the auditEvents query, and the wrapper that records every Mutation field
// (REST runs the same mutations in-process, so both surfaces are audited once, here).
import { defaultFieldResolver, type GraphQLSchema } from "graphql";
import type { AuditEventView } from "../audit/service.js";
import { mutationAudit } from "../audit/mutations.js";
import { isErrorCode } from "../errors.js";
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";
import type { RequestContext } from "./context.js";

const AuditEventRef = builder.objectRef<AuditEventView>("AuditEvent").implement({
  description: "One security-relevant or changing action: who, when, from where, what, and the outcome",
  fields: (t) => ({
    id: t.exposeID("id"),
    at: t.expose("at", { type: "DateTime" }),
    action: t.exposeString("action", { description: "The mutation name, or uploadArtifact / deleteArtifact on the repository port" }),
    category: t.exposeString("category", { description: "ECS event.category: authentication, iam, configuration or file" }),
    outcome: t.exposeString("outcome", { description: "success or failure" }),
    errorCode: t.exposeString("errorCode", { nullable: true, description: "The error code of a failure" }),
    user: t.exposeString("user", { nullable: true, description: "The caller, or the attempted name of a failed login" }),
    sourceIp: t.exposeString("sourceIp"),
    target: t.exposeString("target", { description: "What the action was done to: a name, or <repository>/<path>" }),
    details: t.field({ type: "JSON", description: "Non-secret arguments of the action", resolve: (e) => e.details }),
    message: t.exposeString("message"),
  }),
});

const AuditEventPage = pageType("AuditEventPage", AuditEventRef);

builder.queryFields((t) => ({
  auditEvents: t.field({
    type: AuditEventPage,
    description: "The audit trail, newest first (api_role_permissions:read)",
    args: {
      page: t.arg.int(),
      size: t.arg.int(),
      action: t.arg.string(),
      user: t.arg.string(),
      outcome: t.arg.string({ description: "success or failure" }),
      from: t.arg({ type: "DateTime", description: "Events at or after this instant" }),
      to: t.arg({ type: "DateTime", description: "Events at or before this instant" }),
      target: t.arg.string({ description: "A target and everything below it ('repo' also matches 'repo/path')" }),
    },
    resolve: (_r, a, ctx) => ctx.app.audit.list(caller(ctx), a),
  }),
}));

// Targets are names and ids (strings, numbers); the rule sees the null check narrow `unknown` to `{}`.
// eslint-disable-next-line @typescript-eslint/no-base-to-string
const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));

/** Wraps every Mutation resolver of `schema` so that each call leaves one audit event. */
export function auditMutations(schema: GraphQLSchema): GraphQLSchema {
  const fields = schema.getMutationType()?.getFields() ?? {};
  for (const [name, field] of Object.entries(fields)) {
    const spec = mutationAudit(name);
    if (!spec) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (source, args, ctx: RequestContext, info) => {
      const audit = ctx.app.audit;
      const request = { ip: ctx.ip, user: ctx.actor?.via === "anonymous" ? null : (ctx.actor?.name ?? null) };
      const event = (outcome: "success" | "failure", result: unknown, errorCode?: string) => ({
        action: name,
        category: spec.category,
        outcome,
        errorCode,
        user: spec.user?.(args, result) ?? request.user,
        ip: request.ip,
        target: text(spec.target?.(args)),
        details: spec.details?.(args, result) ?? {},
      });
      let result: unknown;
      try {
        // Events recorded deeper down (SSO provisioning) take this request's address and caller.
        result = await audit.requests.run(request, () => resolve(source, args, ctx, info));
      } catch (err) {
        const code = (err as { extensions?: { code?: unknown } }).extensions?.code;
        await safely(ctx, name, () => audit.record(event("failure", undefined, isErrorCode(code) ? code : "INTERNAL_ERROR")));
        throw err;
      }
      await safely(ctx, name, () => audit.record(event("success", result)));
      return result;
    };
  }
  return schema;
}

/** A spec that throws on an odd argument shape must not turn a done action into an error. */
async function safely(ctx: RequestContext, action: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    ctx.app.log.warn("audit event not recorded", { action, err: String(err) });
  }
}
