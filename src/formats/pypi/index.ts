// PyPI format module: hosted (pypi), proxy (pypi-proxy) and group (pypi-group).
//
// Client-facing layout:   /<repo>/simple/, /<repo>/simple/<normalized>/ (PEP 503 HTML / PEP 691 JSON),
//                         POST /<repo>/ (twine legacy upload), files at /<repo>/packages/<norm>/<version>/<file>
// Storage layout:         packages/<norm>/<version>/<file>       distribution files
//                         .pantera-pypi/<norm>.json              hosted: the project's file list (hashes,
//                                                                requires-python, upload-time, size)
//                                                                proxy: the parsed upstream page (TTL)
import { PassThrough, type Readable } from "node:stream";
import Busboy from "busboy";
import type Koa from "koa";
import { badRequest, conflict, notFound } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import { readStoredJson } from "../../storage/types.js";
import { cooldownPyFiles, enforceCooldown } from "../../cooldown/formats.js";
import { cachedFetch, encodePath, metadataTtlMs, readBody, UpstreamError } from "../proxy.js";
import { MAX_GROUP_DEPTH, memberScopes } from "../scope.js";
import type { FormatModule, RequestScope } from "../types.js";
import { recordArtifact, withPackageLock } from "../package-helpers.js";
import {
  assembleFiles,
  JSON_V1,
  mergeFiles,
  negotiate,
  normalize,
  parseFilename,
  parseProjectHtml,
  parseProjectJson,
  renderIndexHtml,
  renderIndexJson,
  renderProjectHtml,
  renderProjectJson,
  validateProject,
  type PyFile,
} from "./simple.js";

const META_DIR = ".pantera-pypi";
const UPLOAD_LIMIT = 2 * 1024 * 1024 * 1024;

interface ProjectDoc {
  name: string;
  /** url: storage key (hosted) or upstream URL (proxy). */
  files: PyFile[];
}

const metaKey = (norm: string) => `${META_DIR}/${norm}.json`;
const fileKey = (norm: string, version: string | null | undefined, filename: string) => `packages/${norm}/${version || "-"}/${filename}`;

async function readDoc(scope: RequestScope, key: string): Promise<ProjectDoc | null> {
  const doc = await readStoredJson<ProjectDoc>(scope.storage, key);
  return Array.isArray(doc?.files) ? doc : null;
}

/** Path of the project page below a remote's URL (remotes may point at the host or at /simple). */
function remoteProjectPath(repo: RepositoryRecord, norm: string): string {
  const url = repo.remotes[0]?.url ?? "";
  return /\/simple\/?$/.test(url) ? `${encodeURIComponent(norm)}/` : `simple/${encodeURIComponent(norm)}/`;
}

/** The project's files in this repository (group: merged), with served URLs relative to `baseUrl`. */
export async function projectFiles(scope: RequestScope, norm: string, baseUrl: string, depth = 0): Promise<{ name: string; files: PyFile[] } | null> {
  const { repo } = scope;
  if (repo.kind === "hosted") {
    const doc = await readDoc(scope, metaKey(norm));
    if (!doc || doc.files.length === 0) return null;
    return { name: doc.name, files: doc.files.map((f) => ({ ...f, url: `${baseUrl}/${encodePath(f.url)}` })) };
  }
  if (repo.kind === "proxy") {
    const key = metaKey(norm);
    const res = await cachedFetch(scope, key, {
      remotePath: remoteProjectPath(repo, norm),
      maxAgeMs: metadataTtlMs(repo),
      headers: { accept: `${JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1` },
      transform: async (body, up) => {
        const text = (await readBody({ ...up, body })).toString("utf8");
        const type = up.headers.get("content-type") ?? "";
        try {
          const files = type.includes("json") ? parseProjectJson(JSON.parse(text), up.url) : parseProjectHtml(text, up.url);
          return JSON.stringify({ name: norm, files } satisfies ProjectDoc);
        } catch (err) {
          throw new UpstreamError(502, `Upstream index page for '${norm}' is not valid: ${(err as Error).message}`);
        }
      },
    });
    if (!res) return null;
    const doc = await readDoc(scope, key);
    if (!doc) return null;
    const allowed = await cooldownPyFiles(scope, norm, doc.files, (f) => f.version ?? parseFilename(f.filename)?.version);
    return { name: doc.name, files: allowed.map((f) => ({ ...f, url: `${baseUrl}/${encodePath(fileKey(norm, f.version, f.filename))}` })) };
  }
  if (depth > MAX_GROUP_DEPTH) return null;
  const lists: PyFile[][] = [];
  let name: string | null = null;
  let failure: unknown = null;
  const members = (await memberScopes(scope, scope.path)).filter((m) => m.repo.format === "pypi");
  const results = await Promise.allSettled(members.map((m) => projectFiles(m, norm, baseUrl, depth + 1)));
  for (const r of results) {
    if (r.status === "rejected") failure = r.reason;
    else if (r.value) {
      name ??= r.value.name;
      lists.push(r.value.files);
    }
  }
  if (lists.length === 0) {
    if (failure) throw failure;
    return null;
  }
  return { name: name ?? norm, files: mergeFiles(lists) };
}

/** A distribution file from this repository (group: first member that has it). */
async function readFile(scope: RequestScope, norm: string, version: string, filename: string, depth = 0): Promise<{ stream: Readable; size: number } | null> {
  const { repo, storage } = scope;
  const key = fileKey(norm, version, filename);
  if (repo.kind === "hosted") return storage.get(key);
  if (repo.kind === "proxy") {
    const hit = await storage.get(key);
    if (hit) return hit;
    let doc = await readDoc(scope, metaKey(norm));
    let entry = doc?.files.find((f) => f.filename === filename);
    if (!entry) {
      await projectFiles(scope, norm, "").catch(() => null);
      doc = await readDoc(scope, metaKey(norm));
      entry = doc?.files.find((f) => f.filename === filename);
    }
    if (!entry) return null;
    await enforceCooldown(scope, norm, entry.version ?? parseFilename(filename)?.version, entry.uploadTime);
    const got = await cachedFetch(scope, key, {
      remotePath: entry.url,
      onStored: async ({ size, digests }) => {
        if (entry.hashes.sha256 && entry.hashes.sha256 !== digests.sha256) {
          await storage.delete(key);
          throw new UpstreamError(502, `Upstream file '${filename}' does not match its sha256`);
        }
        await recordArtifact(scope.app, repo, {
          path: key,
          name: norm,
          version: entry.version ?? parseFilename(filename)?.version ?? "",
          size,
          checksums: { ...digests },
          owner: "",
          releasedAt: entry.uploadTime && !Number.isNaN(Date.parse(entry.uploadTime)) ? new Date(entry.uploadTime) : null,
        });
      },
    });
    return got ? storage.get(key) : null;
  }
  if (depth > MAX_GROUP_DEPTH) return null;
  let failure: unknown = null;
  for (const m of await memberScopes(scope, scope.path)) {
    if (m.repo.format !== "pypi") continue;
    try {
      const hit = await readFile(m, norm, version, filename, depth + 1);
      if (hit) return hit;
    } catch (err) {
      failure = err;
    }
  }
  if (failure) throw failure;
  return null;
}

async function projectNames(scope: RequestScope, depth = 0): Promise<string[]> {
  if (scope.repo.kind === "group") {
    if (depth > MAX_GROUP_DEPTH) return [];
    const all = new Set<string>();
    for (const m of await memberScopes(scope, scope.path)) {
      if (m.repo.format === "pypi") for (const n of await projectNames(m, depth + 1).catch(() => [])) all.add(n);
    }
    return [...all].sort();
  }
  const names: string[] = [];
  for (const e of await scope.storage.list(META_DIR + "/", { delimiter: "/" })) {
    if (e.kind === "file" && e.key.endsWith(".json")) names.push(e.key.slice(META_DIR.length + 1, -5));
  }
  return names.sort();
}

// ---- upload (twine legacy API) ------------------------------------------------------------

interface UploadFields {
  [field: string]: string;
}

async function upload(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  scope.require("write");
  if (scope.repo.kind !== "hosted") {
    throw Object.assign(new Error(`Repository '${scope.repo.name}' (${scope.repo.type}) does not accept uploads`), { status: 405, expose: true });
  }
  const type = ctx.get("content-type");
  if (!type.toLowerCase().startsWith("multipart/form-data")) throw badRequest("Uploads must be multipart/form-data (twine legacy API)");
  const fields: UploadFields = {};
  let stored: { key: string; filename: string; norm: string; version: string; size: number; digests: Record<string, string> } | null = null;
  let bb: Busboy.Busboy;
  try {
    bb = Busboy({ headers: ctx.req.headers, limits: { fileSize: UPLOAD_LIMIT, files: 1, fields: 200, fieldSize: 1024 * 1024 } });
  } catch (err) {
    throw badRequest(`Malformed multipart body: ${(err as Error).message}`);
  }
  const storing: Promise<void>[] = [];
  const bodies = new Set<PassThrough>();
  const done = new Promise<void>((resolve, reject) => {
    ctx.req.on("aborted", () => {
      const err = Object.assign(new Error("Upload aborted by the client"), { status: 400, expose: true });
      for (const b of bodies) b.destroy(err);
      reject(err);
    });
    bb.on("field", (name, value) => {
      fields[name] = value;
    });
    bb.on("file", (name, stream, info) => {
      if (name !== "content") {
        stream.resume();
        return;
      }
      const filename = (info.filename ?? "").split(/[\\/]/).pop() ?? "";
      const parsed = parseFilename(filename);
      if (!parsed) {
        stream.resume();
        reject(badRequest(`'${filename}' is not a wheel, sdist or egg file name`));
        return;
      }
      const declared = fields.name;
      const norm = normalize(declared || parsed.project);
      if (declared && normalize(parsed.project) !== norm) {
        stream.resume();
        reject(badRequest(`File '${filename}' does not belong to project '${declared}'`));
        return;
      }
      if (fields.version && fields.version !== parsed.version && normalize(fields.version) !== normalize(parsed.version)) {
        stream.resume();
        reject(badRequest(`File '${filename}' is not version '${fields.version}'`));
        return;
      }
      const version = fields.version || parsed.version;
      const key = fileKey(norm, version, filename);
      const body = new PassThrough();
      let truncated = false;
      stream.on("limit", () => {
        truncated = true;
        body.destroy(Object.assign(new Error("File too large"), { status: 413, expose: true }));
      });
      stream.on("error", (err) => body.destroy(err));
      bodies.add(body);
      stream.pipe(body);
      const expect: Record<string, string> = {};
      if (/^[0-9a-f]{64}$/i.test(fields.sha256_digest ?? "")) expect.sha256 = fields.sha256_digest.toLowerCase();
      if (/^[0-9a-f]{32}$/i.test(fields.md5_digest ?? "")) expect.md5 = fields.md5_digest.toLowerCase();
      const task = (async () => {
          validateProject(declared || parsed.project);
          if (await scope.storage.exists(key)) {
            body.resume();
            throw conflict(`File '${filename}' already exists`);
          }
          const put = await scope.storage.put(key, body, { expect, ifNotExists: true });
          if (truncated) throw Object.assign(new Error("File too large"), { status: 413, expose: true });
          stored = { key, filename, norm, version, size: put.size, digests: { ...put.digests } };
        })();
      task.catch(() => undefined); // settled below; never an unhandled rejection
      storing.push(task);
    });
    bb.on("error", (err) => reject(badRequest(`Malformed multipart body: ${(err as Error).message}`)));
    bb.on("close", () => resolve());
  });
  ctx.req.pipe(bb);
  try {
    await done;
  } catch (err) {
    // Let the storage writes fail and discard their temp files before answering.
    await Promise.allSettled(storing);
    throw err;
  }
  const results = await Promise.allSettled(storing);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    const err = (failed as PromiseRejectedResult).reason;
    if (err?.code === "CONFLICT" || err?.status === 413 || err?.code === "BAD_REQUEST") throw err;
    if (/digest|checksum|mismatch/i.test(String(err?.message))) throw badRequest(`Uploaded file does not match the declared digest: ${err.message}`);
    throw err;
  }
  const s = stored as { key: string; filename: string; norm: string; version: string; size: number; digests: Record<string, string> } | null;
  if (!s) throw badRequest("No 'content' file in the upload");
  if (fields[":action"] && fields[":action"] !== "file_upload") throw badRequest(`Unsupported :action '${fields[":action"]}'`);
  const now = new Date();
  const listed = withPackageLock(scope.app, scope.repo, s.norm, async () => {
    const doc = (await readDoc(scope, metaKey(s.norm))) ?? { name: fields.name || s.norm, files: [] };
    doc.files = doc.files.filter((f) => f.filename !== s.filename);
    doc.files.push({
      filename: s.filename,
      url: s.key,
      hashes: { sha256: s.digests.sha256 },
      requiresPython: fields.requires_python || null,
      uploadTime: now.toISOString(),
      size: s.size,
      version: s.version,
      yanked: false,
    });
    await scope.storage.put(metaKey(s.norm), JSON.stringify(doc));
  });
  // Not listed (e.g. a lock timeout, 503): drop the file so that the retry is not refused as a duplicate.
  await listed.catch(async (err: unknown) => {
    await scope.storage.delete(s.key).catch(() => undefined);
    throw err;
  });
  await recordArtifact(scope.app, scope.repo, {
    path: s.key,
    name: fields.name || s.norm,
    version: s.version,
    size: s.size,
    checksums: s.digests,
    owner: scope.actor.name,
    releasedAt: now,
  });
  ctx.status = 200;
  ctx.type = "text/plain";
  ctx.body = "OK";
}

/** A file or folder deleted through the management API leaves the hosted project list. */
async function afterDelete(info: Parameters<NonNullable<FormatModule["afterDelete"]>>[0]): Promise<void> {
  if (info.repo.kind !== "hosted") return;
  const m = /^packages\/([^/]+)(?:\/|$)/.exec(info.path);
  if (!m) return;
  const norm = m[1];
  const gone = (f: PyFile) => (info.folder ? f.url === info.path || f.url.startsWith(info.path + "/") : f.url === info.path);
  const scope = { storage: info.storage } as RequestScope;
  await withPackageLock(info.app, info.repo, norm, async () => {
    const doc = await readDoc(scope, metaKey(norm));
    if (!doc) return;
    doc.files = doc.files.filter((f) => !gone(f));
    if (doc.files.length === 0) await info.storage.delete(metaKey(norm));
    else await info.storage.put(metaKey(norm), JSON.stringify(doc));
  });
}

// ---- the module ----------------------------------------------------------------------------

function send(ctx: Koa.Context, kind: "json" | "html", json: () => unknown, html: () => string): void {
  ctx.status = 200;
  ctx.set("Vary", "Accept");
  if (kind === "json") {
    ctx.type = JSON_V1;
    ctx.body = JSON.stringify(json());
  } else {
    ctx.type = "text/html; charset=utf-8";
    ctx.body = html();
  }
}

async function handle(ctx: Koa.Context, scope: RequestScope): Promise<void> {
  const seg = scope.path.split("/").filter(Boolean);
  const m = ctx.method;
  if (m === "POST" && (seg.length === 0 || (seg.length === 1 && seg[0] === "legacy"))) return upload(ctx, scope);
  if (m !== "GET" && m !== "HEAD") throw Object.assign(new Error(`Method ${m} not allowed here`), { status: 405, expose: true });
  scope.require("read");
  const kind = negotiate(ctx.get("accept"), typeof ctx.query.format === "string" ? ctx.query.format : undefined);
  if (seg[0] === "simple" && seg.length === 1) {
    const names = await projectNames(scope);
    return send(ctx, kind, () => renderIndexJson(names), () => renderIndexHtml(names));
  }
  if (seg[0] === "simple" && seg.length === 2) {
    const requested = seg[1];
    const norm = normalize(requested);
    if (requested !== norm || !ctx.path.endsWith("/")) {
      ctx.status = 301;
      ctx.redirect(`${scope.baseUrl}/simple/${encodeURIComponent(norm)}/`);
      return;
    }
    validateProject(norm);
    const project = await projectFiles(scope, norm, scope.baseUrl);
    if (!project) throw notFound(`Project '${norm}' not found`);
    const files = assembleFiles(project.files);
    if (files.length === 0) throw notFound(`Project '${norm}' not found`);
    return send(ctx, kind, () => renderProjectJson(project.name, files), () => renderProjectHtml(project.name, files));
  }
  if (seg[0] === "packages" && seg.length === 4) {
    const [, norm, version, filename] = seg;
    if (normalize(norm) !== norm || !parseFilename(filename)) throw notFound(`File '${scope.path}' not found`);
    const hit = await readFile(scope, norm, version, filename);
    if (!hit) throw notFound(`File '${filename}' not found`);
    ctx.status = 200;
    ctx.type = "application/octet-stream";
    ctx.length = hit.size;
    if (m === "HEAD") {
      hit.stream.destroy();
      return;
    }
    ctx.body = hit.stream;
    return;
  }
  throw notFound(`No PyPI endpoint at '/${scope.path}'`);
}

function pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] {
  const seg = path.split("/").filter(Boolean);
  const parsed = parseFilename(seg[seg.length - 1] ?? "");
  const spec = parsed ? `${parsed.project}==${parsed.version}` : (seg[1] ?? "<package>");
  return [`pip install --index-url ${baseUrl}/simple/ ${spec}`];
}

function describeArtifact(_repo: RepositoryRecord, path: string): { name: string; version: string } | null {
  const m = /^packages\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return null;
  const parsed = parseFilename(m[3]);
  return parsed ? { name: m[1], version: parsed.version } : null;
}

export const pypiFormat: FormatModule = { format: "pypi", handle, pullInstructions, describeArtifact, afterDelete };
