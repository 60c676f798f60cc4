// Users: queries and mutations over the user service.
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";

export const UserRef = builder.prismaObject("User", {
  fields: (t) => ({
    name: t.exposeString("name"),
    type: t.exposeString("authType", { description: "Auth type: plain for local users, else the SSO provider" }),
    email: t.exposeString("email", { nullable: true }),
    enabled: t.exposeBoolean("enabled"),
    context: t.exposeString("context"),
    groups: t.exposeStringList("groups"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    roles: t.stringList({ description: "Names of the roles assigned", resolve: (u, _a, ctx) => ctx.loaders.userRoles.load(u.id) }),
  }),
});

const UserPage = pageType("UserPage", UserRef);

const UserInput = builder.inputType("UserInput", {
  fields: (t) => ({
    type: t.string(),
    pass: t.string({ description: "Password; required when creating a plain user" }),
    email: t.string(),
    roles: t.stringList(),
    enabled: t.boolean(),
  }),
});

const UserWrite = builder.objectRef<{ created: boolean }>("UserWrite").implement({
  fields: (t) => ({ created: t.exposeBoolean("created") }),
});

builder.queryFields((t) => ({
  users: t.field({
    type: UserPage,
    args: {
      page: t.arg.int(),
      size: t.arg.int(),
      q: t.arg.string({ description: "Case-insensitive substring of name or email" }),
      sort: t.arg.string({ description: "username, email, enabled or auth_provider" }),
      sortDir: t.arg.string({ description: "asc or desc" }),
    },
    resolve: (_r, a, ctx) => ctx.app.users.list(caller(ctx), a),
  }),
  user: t.prismaField({
    type: "User",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_q, _r, a, ctx) => ctx.app.users.get(caller(ctx), a.name),
  }),
}));

builder.mutationFields((t) => ({
  putUser: t.field({
    type: UserWrite,
    description: "Create or update a user",
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UserInput, required: true }) },
    resolve: (_r, a, ctx) => ctx.app.users.put(caller(ctx), a.name, a.input),
  }),
  deleteUser: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.users.delete(caller(ctx), a.name);
      return true;
    },
  }),
  changePassword: t.boolean({
    args: { name: t.arg.string({ required: true }), oldPass: t.arg.string({ required: true }), newPass: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.users.changePassword(caller(ctx), a.name, a.oldPass, a.newPass);
      return true;
    },
  }),
  setUserEnabled: t.boolean({
    args: { name: t.arg.string({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.users.setEnabled(caller(ctx), a.name, a.enabled);
      return true;
    },
  }),
}));
