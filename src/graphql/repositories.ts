// Repositories: queries and mutations over the repository service (REST section 4).
import type { RepositoryRecord } from "../repositories/types.js";
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";

export const RepositoryRef = builder.objectRef<RepositoryRecord>("Repository").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    type: t.exposeString("type"),
    format: t.exposeString("format"),
    kind: t.exposeString("kind", { description: "hosted, proxy or group" }),
    storage: t.exposeString("storage", { description: "Storage alias name" }),
    members: t.exposeStringList("members", { description: "Group members in order (empty for other kinds)" }),
    remotes: t.field({ type: "JSON", description: "Proxy remotes as configured, passwords masked (\"ab***yz\")", resolve: (r) => r.remotes }),
    config: t.field({
      type: "JSON",
      description: "The whole `repo` object as configured, secrets masked (a putRepository of a masked value keeps the stored one)",
      resolve: (r) => r.config,
    }),
  }),
});

const RepositorySummaryRef = builder.objectRef<{ name: string; type: string }>("RepositorySummary").implement({
  fields: (t) => ({ name: t.exposeString("name"), type: t.exposeString("type") }),
});

const RepositoryPage = pageType("RepositoryPage", RepositorySummaryRef);

const RepositoryMembersRef = builder.objectRef<{ type: string; members: string[] }>("RepositoryMembers").implement({
  fields: (t) => ({
    type: t.exposeString("type", { description: "The group type, or not-a-group" }),
    members: t.exposeStringList("members", { description: "Member URLs on the repository port" }),
  }),
});

const RepositoryWrite = builder.objectRef<{ created: boolean }>("RepositoryWrite").implement({
  fields: (t) => ({ created: t.exposeBoolean("created") }),
});

builder.queryFields((t) => ({
  repositories: t.field({
    type: RepositoryPage,
    description: "Repositories the caller may read",
    args: {
      page: t.arg.int(),
      size: t.arg.int(),
      type: t.arg.string({ description: "Substring of the repository type" }),
      q: t.arg.string({ description: "Substring of the repository name" }),
    },
    resolve: (_r, a, ctx) => ctx.app.repositories.list(caller(ctx), a),
  }),
  repository: t.field({
    type: RepositoryRef,
    description: "One repository the caller may read (NOT_FOUND for one it may not, as for a missing one)",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.repositories.get(caller(ctx), a.name),
  }),
  repositoryExists: t.boolean({
    description: "Whether the repository exists and the caller may read it",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.repositories.exists(caller(ctx), a.name),
  }),
  repositoryMembers: t.field({
    type: RepositoryMembersRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.repositories.members(caller(ctx), a.name),
  }),
}));

builder.mutationFields((t) => ({
  putRepository: t.field({
    type: RepositoryWrite,
    description: "Create or update a repository from its `repo` config object",
    args: { name: t.arg.string({ required: true }), repo: t.arg({ type: "JSON", required: true }) },
    resolve: (_r, a, ctx) => ctx.app.repositories.put(caller(ctx), a.name, a.repo),
  }),
  deleteRepository: t.boolean({
    description: "Delete a repository with its data and index rows",
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.repositories.delete(caller(ctx), a.name);
      return true;
    },
  }),
  moveRepository: t.boolean({
    description: "Rename a repository everywhere it is referenced",
    args: { name: t.arg.string({ required: true }), newName: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.repositories.move(caller(ctx), a.name, a.newName);
      return true;
    },
  }),
}));
