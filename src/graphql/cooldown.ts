// Cooldown (REST section 10): configuration, overview, blocked versions, unblocking.
import { builder, pageType, StatusRef } from "./builder.js";
import { caller } from "./caller.js";
import type { BlockView } from "../cooldown/service.js";

const RepoTypeRef = builder.objectRef<{ type: string; enabled: boolean; minimumAllowedAge: string }>("CooldownRepoTypeConfig").implement({
  description: "Effective cooldown of one repository type (overrides the global values)",
  fields: (t) => ({ type: t.exposeString("type"), enabled: t.exposeBoolean("enabled"), minimumAllowedAge: t.exposeString("minimumAllowedAge") }),
});

const ConfigRef = builder
  .objectRef<{ enabled: boolean; minimumAllowedAge: string; repoTypes: { type: string; enabled: boolean; minimumAllowedAge: string }[] }>("CooldownConfig")
  .implement({
    fields: (t) => ({
      enabled: t.exposeBoolean("enabled"),
      minimumAllowedAge: t.exposeString("minimumAllowedAge", { description: "Nd, Nh or Nm" }),
      repoTypes: t.field({ type: [RepoTypeRef], resolve: (c) => c.repoTypes }),
    }),
  });

const ConfigInput = builder.inputType("CooldownConfigInput", {
  fields: (t) => ({
    enabled: t.boolean(),
    minimumAllowedAge: t.string({ description: "Nd, Nh or Nm" }),
    repoTypes: t.field({ type: "JSON", description: 'Replaces the per-type map: {"npm-proxy": {"enabled": true, "minimum_allowed_age": "3d"}}' }),
  }),
});

const OverviewRef = builder.objectRef<{ name: string; type: string; cooldown: string; activeBlocks: number }>("CooldownRepository").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    type: t.exposeString("type"),
    cooldown: t.exposeString("cooldown"),
    activeBlocks: t.exposeInt("activeBlocks"),
  }),
});

const BlockRef = builder.objectRef<BlockView>("CooldownBlock").implement({
  fields: (t) => ({
    packageName: t.exposeString("packageName"),
    version: t.exposeString("version"),
    repo: t.exposeString("repo"),
    repoType: t.exposeString("repoType"),
    reason: t.exposeString("reason"),
    blockedDate: t.expose("blockedDate", { type: "DateTime" }),
    blockedUntil: t.expose("blockedUntil", { type: "DateTime" }),
    remainingHours: t.exposeInt("remainingHours"),
  }),
});

const BlockPage = pageType("CooldownBlockPage", BlockRef);

builder.queryFields((t) => ({
  cooldownConfig: t.field({ type: ConfigRef, resolve: (_r, _a, ctx) => ctx.app.cooldown.getConfig(caller(ctx)) }),
  cooldownOverview: t.field({
    type: [OverviewRef],
    description: "Proxy repositories with cooldown enabled and their active block counts",
    resolve: (_r, _a, ctx) => ctx.app.cooldown.overview(caller(ctx)),
  }),
  cooldownBlocked: t.field({
    type: BlockPage,
    description: "Currently blocked versions",
    args: { page: t.arg.int(), size: t.arg.int(), search: t.arg.string({ description: "Substring of package name, repository or version" }) },
    resolve: (_r, a, ctx) => ctx.app.cooldown.blocked(caller(ctx), a),
  }),
}));

builder.mutationFields((t) => ({
  setCooldownConfig: t.field({
    type: StatusRef,
    description: "Saves the cooldown configuration (hot reload on every node); disabling a type releases its blocks",
    args: { input: t.arg({ type: ConfigInput, required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.cooldown.setConfig(caller(ctx), a.input);
      return { status: "saved" };
    },
  }),
  cooldownUnblock: t.boolean({
    args: { repo: t.arg.string({ required: true }), artifact: t.arg.string({ required: true }), version: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.cooldown.unblock(caller(ctx), a.repo, a.artifact, a.version);
      return true;
    },
  }),
  cooldownUnblockAll: t.int({
    description: "Unblocks every active block of a repository; returns how many",
    args: { repo: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.cooldown.unblockAll(caller(ctx), a.repo),
  }),
}));
