// Artifact operations (REST section 8): tree, metadata, pull instructions, download
// authorisation (JWT or HMAC download token), delete artifact, delete package folder.
// Downloads return where the bytes are; the REST route streams them from storage.
import { builder } from "./builder.js";
import { caller } from "./caller.js";

interface TreeItemShape {
  name: string;
  path: string;
  type: "file" | "directory";
  size?: number;
  modified?: Date;
}

const TreeItem = builder.objectRef<TreeItemShape>("ArtifactTreeItem").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    path: t.exposeString("path"),
    type: t.exposeString("type", { description: "file or directory" }),
    size: t.float({ nullable: true, resolve: (i) => i.size ?? null }),
    modified: t.field({ type: "DateTime", nullable: true, resolve: (i) => i.modified ?? null }),
  }),
});

const TreePage = builder.objectRef<{ items: TreeItemShape[]; marker: string | null; hasMore: boolean }>("ArtifactTree").implement({
  fields: (t) => ({
    items: t.field({ type: [TreeItem], resolve: (p) => p.items }),
    marker: t.exposeString("marker", { nullable: true, description: "Pass back as `marker` to get the next page" }),
    hasMore: t.exposeBoolean("hasMore"),
  }),
});

const ArtifactInfo = builder
  .objectRef<{ path: string; name: string; size: number; modified: Date; checksums: Record<string, string | undefined> }>("ArtifactInfo")
  .implement({
    fields: (t) => ({
      path: t.exposeString("path"),
      name: t.exposeString("name"),
      size: t.exposeFloat("size"),
      modified: t.expose("modified", { type: "DateTime" }),
      checksums: t.field({ type: "JSON", resolve: (a) => a.checksums }),
    }),
  });

const PullInstructions = builder.objectRef<{ type: string; instructions: string[] }>("PullInstructions").implement({
  fields: (t) => ({ type: t.exposeString("type"), instructions: t.exposeStringList("instructions") }),
});

const ArtifactDownload = builder.objectRef<{ repository: string; path: string; filename: string; size: number }>("ArtifactDownload").implement({
  description: "An authorised download: the storage key to stream from the repository's storage",
  fields: (t) => ({
    repository: t.exposeString("repository"),
    path: t.exposeString("path", { description: "Storage key inside the repository" }),
    filename: t.exposeString("filename"),
    size: t.exposeFloat("size"),
  }),
});

builder.queryFields((t) => ({
  repositoryTree: t.field({
    type: TreePage,
    args: { name: t.arg.string({ required: true }), path: t.arg.string(), limit: t.arg.int(), marker: t.arg.string() },
    resolve: (_r, a, ctx) => ctx.app.artifacts.tree(caller(ctx), a.name, a.path, a.limit ?? 1000, a.marker),
  }),
  artifact: t.field({
    type: ArtifactInfo,
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.artifacts.info(caller(ctx), a.name, a.path),
  }),
  artifactPull: t.field({
    type: PullInstructions,
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.artifacts.pull(caller(ctx), a.name, a.path),
  }),
  artifactDownload: t.field({
    type: ArtifactDownload,
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.artifacts.download(caller(ctx), a.name, a.path),
  }),
  artifactDownloadDirect: t.field({
    type: ArtifactDownload,
    description: "Authorises a download by HMAC download token (no JWT needed)",
    args: { token: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.artifacts.downloadDirect(a.token),
  }),
}));

builder.mutationFields((t) => ({
  artifactDownloadToken: t.string({
    description: "A 60-second HMAC token for artifactDownloadDirect, scoped to one repository and path",
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: (_r, a, ctx) => ctx.app.artifacts.downloadToken(caller(ctx), a.name, a.path),
  }),
  deleteArtifact: t.boolean({
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.artifacts.deleteArtifact(caller(ctx), a.name, a.path);
      return true;
    },
  }),
  deletePackage: t.boolean({
    args: { name: t.arg.string({ required: true }), path: t.arg.string({ required: true }) },
    resolve: async (_r, a, ctx) => {
      await ctx.app.artifacts.deletePackage(caller(ctx), a.name, a.path);
      return true;
    },
  }),
}));
