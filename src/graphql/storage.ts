// Storage aliases, global and repository-scoped (REST section 7).
import type { AliasView } from "../storage/service.js";
import { builder } from "./builder.js";
import { caller } from "./caller.js";

const StorageAliasRef = builder.objectRef<AliasView>("StorageAlias").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    config: t.field({ type: "JSON", description: "Driver config (fs: path; s3: bucket, region, endpoint...), secrets masked", resolve: (a) => a.config }),
  }),
});

builder.queryFields((t) => ({
  storageAliases: t.field({
    type: [StorageAliasRef],
    description: "Global aliases, or those scoped to `repository` when given",
    args: { repository: t.arg.string() },
    resolve: (_r, a, ctx) => (a.repository != null ? ctx.app.storages.listScoped(caller(ctx), a.repository) : ctx.app.storages.listGlobal(caller(ctx))),
  }),
}));

builder.mutationFields((t) => ({
  putStorageAlias: t.boolean({
    description: "Create or update a global alias, or one scoped to `repository`",
    args: { name: t.arg.string({ required: true }), repository: t.arg.string(), config: t.arg({ type: "JSON", required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.storages.put(caller(ctx), a.repository ?? null, a.name, a.config);
      return true;
    },
  }),
  deleteStorageAlias: t.boolean({
    description: "Delete an alias; 409 while repositories use it",
    args: { name: t.arg.string({ required: true }), repository: t.arg.string() },
    resolve: async (_r, a, ctx) => {
      await ctx.app.storages.delete(caller(ctx), a.repository ?? null, a.name);
      return true;
    },
  }),
}));
