// Repositories: queries and mutations over the repository service (REST section 4).
import { requireActor } from "../auth/permissions.js";
import { badRequest } from "../errors.js";
import type { RepositoryKind, RepositoryRecord } from "../repositories/types.js";
import { builder, pageType } from "./builder.js";
import { caller } from "./caller.js";
import { RepositoryKindEnum, RepositorySettingsInput, RepositorySettingsUnion, repositorySettings, settingsToRepo } from "./repository-config.js";

export const RepositoryRef = builder.objectRef<RepositoryRecord>("Repository").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    type: t.exposeString("type"),
    format: t.exposeString("format"),
    kind: t.exposeString("kind", { description: "hosted, proxy or group" }),
    storage: t.exposeString("storage", { description: "Storage alias name" }),
    members: t.exposeStringList("members", { description: "Group members in order (empty for other kinds)" }),
    remotes: t.field({ type: "JSON", description: 'Proxy remotes as configured, passwords masked ("ab***yz")', resolve: (r) => r.remotes }),
    config: t.field({
      type: "JSON",
      description: "The whole `repo` object as configured, secrets masked (a putRepository of a masked value keeps the stored one)",
      resolve: (r) => r.config,
    }),
    settings: t.field({
      type: RepositorySettingsUnion,
      nullable: true,
      description: "The config typed by the repository's format (secrets masked as in `config`); null for a format this build does not serve",
      resolve: (r) => repositorySettings(r) as never,
    }),
  }),
});

const RepositoryTypeRef = builder.objectRef<{ type: string; format: string; kind: RepositoryKind }>("RepositoryType").implement({
  description: "A repository type this build serves (from the registered format plugins)",
  fields: (t) => ({
    type: t.exposeString("type"),
    format: t.exposeString("format"),
    kind: t.field({ type: RepositoryKindEnum, resolve: (r) => r.kind }),
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
  repositoryTypes: t.field({
    type: [RepositoryTypeRef],
    description: "Every repository type PUT /repositories accepts: hosted, proxy and group of each registered format",
    resolve: (_r, _a, ctx) => {
      requireActor(caller(ctx));
      return ctx.app.repositories.types.types().map((type) => ({ type, ...ctx.app.repositories.types.parseType(type)! }));
    },
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
    description:
      "Create or update a repository from its `repo` config object (JSON), or from `settings` (the same config, typed by format); exactly one of the two",
    args: {
      name: t.arg.string({ required: true }),
      repo: t.arg({ type: "JSON", required: false }),
      settings: t.arg({ type: RepositorySettingsInput, required: false }),
    },
    resolve: (_r, a, ctx) => {
      const given = (a.repo !== undefined && a.repo !== null ? 1 : 0) + (a.settings ? 1 : 0);
      if (given !== 1) throw badRequest("putRepository takes exactly one of 'repo' (JSON) and 'settings' (typed)");
      if (a.repo !== undefined && a.repo !== null) return ctx.app.repositories.put(caller(ctx), a.name, a.repo);
      const typed = settingsToRepo(a.settings as unknown as Record<string, unknown>);
      if ("error" in typed) throw badRequest(typed.error);
      return ctx.app.repositories.put(caller(ctx), a.name, typed.repo);
    },
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
