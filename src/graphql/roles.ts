// Roles: queries and mutations over the role service.
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";

export const RoleRef = builder.prismaObject("Role", {
  fields: (t) => ({
    name: t.exposeString("name"),
    permissions: t.field({ type: "JSON", resolve: (r) => r.permissions }),
    enabled: t.exposeBoolean("enabled"),
  }),
});

const RolePage = pageType("RolePage", RoleRef);

const RoleWrite = builder.objectRef<{ created: boolean }>("RoleWrite").implement({
  fields: (t) => ({ created: t.exposeBoolean("created") }),
});

builder.queryFields((t) => ({
  roles: t.field({
    type: RolePage,
    args: { page: t.arg.int(), size: t.arg.int(), q: t.arg.string(), sort: t.arg.string({ description: "name or enabled" }), sortDir: t.arg.string() },
    resolve: (_r, a, ctx) => ctx.app.roles.list(caller(ctx), a),
  }),
  role: t.prismaField({
    type: "Role",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_q, _r, a, ctx) => ctx.app.roles.get(caller(ctx), a.name),
  }),
}));

builder.mutationFields((t) => ({
  putRole: t.field({
    type: RoleWrite,
    description: "Create or update a role",
    args: { name: t.arg.string({ required: true }), permissions: t.arg({ type: "JSON", required: true }), enabled: t.arg.boolean() },
    resolve: (_r, a, ctx) => ctx.app.roles.put(caller(ctx), a.name, a.permissions, a.enabled),
  }),
  deleteRole: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.roles.delete(caller(ctx), a.name);
      return true;
    },
  }),
  setRoleEnabled: t.boolean({
    args: { name: t.arg.string({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.roles.setEnabled(caller(ctx), a.name, a.enabled);
      return true;
    },
  }),
}));
