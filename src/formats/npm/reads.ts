// Reading npm metadata and tarballs through any repository: packuments (full and abbreviated),
// one version's manifest, dist-tags, tarballs; and how a proxy fetches them (packument plan with
// validation, tarball plan from the cached packument), filters them (cooldown) and how a group
// merges its members' packuments.
import { notFound } from "../../errors.js";
import type { FetchPlan, FormatRequest, OperationResult, Reply } from "../kit/contract.js";
import { readStored } from "../kit/request.js";
import { readBody, UpstreamError } from "../kit/upstream.js";
import { cooldownNotice, cooldownPackument, parseDate } from "./cooldown.js";
import type { PackumentDocuments } from "./documents.js";
import {
  abbreviate,
  assembleVersions,
  encodeName,
  mergePackuments,
  packageOfPackumentKey,
  packumentKey,
  parseName,
  rewriteTarballs,
  upstreamTarballUrl,
  versionFromTarball,
  type Packument,
} from "./packument.js";

const ABBREVIATED = "application/vnd.npm.install-v1+json";

export const tarballKey = (name: string, file: string) => `${name}/-/${file}`;

/** `<name>/-/<file>` → name and file name; null for any other key. */
export function parseTarballKey(key: string): { name: string; file: string } | null {
  const m = /^((?:@[^/]+\/)?[^/]+)\/-\/([^/]+)$/.exec(key);
  return m ? { name: m[1], file: m[2] } : null;
}

/** The package name of the route (400 when it is no valid npm name). */
export function packageName(req: FormatRequest): string {
  const name = req.params.name;
  parseName(name);
  return name;
}

/**
 * How the addressed repository's kind shapes a served packument: whether one left without any
 * version counts as missing (proxies and groups: everything was filtered or unpublished), and
 * which repositories' cooldown blocks the client is told about.
 */
export interface PackumentView {
  emptyIsMissing: boolean;
  noticeRepos(req: FormatRequest): string[];
}

/** The packument as clients see it: version list assembled, tarballs on this server; null when absent. */
export async function servedPackument(docs: PackumentDocuments, req: FormatRequest, name: string, emptyIsMissing = false): Promise<Packument | null> {
  const bytes = await req.files.read(packumentKey(name));
  const raw = bytes && docs.decode(bytes);
  if (!raw) return null;
  const assembled = assembleVersions(raw);
  if (emptyIsMissing && Object.keys(assembled.versions).length === 0) return null;
  const out = rewriteTarballs(assembled, req.baseUrl);
  out._id = name;
  return out;
}

const json = (status: number, body: unknown, type = "application/json", headers?: Record<string, string>): Reply => ({
  status,
  type,
  headers,
  body: Buffer.from(JSON.stringify(body)),
});

export async function packument(docs: PackumentDocuments, req: FormatRequest, view: PackumentView): Promise<Reply> {
  const name = packageName(req);
  req.require("read");
  const p = await servedPackument(docs, req, name, view.emptyIsMissing);
  if (!p) throw notFound(`Package '${name}' not found`);
  const headers = await cooldownNotice(req.services.cooldown, req.repo.name, view.noticeRepos(req), name);
  // npm install sends "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*".
  const wantsAbbreviated = (req.header("accept") ?? "").includes(ABBREVIATED) && req.query.get("write") !== "true";
  return wantsAbbreviated ? json(200, abbreviate(p), ABBREVIATED, headers) : json(200, p, "application/json", headers);
}

/** GET /<name>/<version or dist-tag>: one version's manifest. */
export async function version(docs: PackumentDocuments, req: FormatRequest): Promise<Reply> {
  const name = packageName(req);
  req.require("read");
  const spec = req.params.spec;
  const p = await servedPackument(docs, req, name);
  const v = p ? (p["dist-tags"][spec] ?? spec) : undefined;
  if (!p || !v || !p.versions[v]) throw notFound(`Version '${spec}' of '${name}' not found`);
  return json(200, p.versions[v]);
}

/** GET /-/package/<name>/dist-tags */
export async function distTags(docs: PackumentDocuments, req: FormatRequest, view: PackumentView): Promise<Reply> {
  const name = packageName(req);
  req.require("read");
  const p = await servedPackument(docs, req, name, view.emptyIsMissing);
  if (!p) throw notFound(`Package '${name}' not found`);
  return json(200, p["dist-tags"]);
}

/** GET /<name>/-/<file> (and /-rev/<rev>): the stored tarball, wherever the kit finds it. */
export async function tarball(req: FormatRequest): Promise<OperationResult> {
  const name = packageName(req);
  const file = req.params.file;
  req.require("read");
  const hit = await req.files.open(tarballKey(name, file));
  if (!hit) throw notFound(`Tarball '${file}' of '${name}' not found`);
  return { file: hit, type: "application/octet-stream" };
}

// ---- proxies and groups ------------------------------------------------------------------

/** A proxy's packument exactly as fetched (no cooldown filter): where tarballs are, when versions were released. */
async function upstreamPackument(docs: PackumentDocuments, req: FormatRequest, name: string): Promise<Packument | null> {
  const hit = await req.files.get(packumentKey(name));
  const bytes = hit && (await readStored(hit));
  return bytes ? docs.decode(bytes) : null;
}

/** How a proxy fetches a packument or a tarball; null for anything else (the upstream is not asked). */
export async function fetchPlan(docs: PackumentDocuments, key: string, req: FormatRequest): Promise<FetchPlan | null> {
  const name = packageOfPackumentKey(key);
  if (name) {
    return {
      remotePath: encodeName(name),
      headers: { accept: "application/json" },
      transform: async (body, up) => {
        const buf = await readBody({ ...up, body });
        try {
          const doc = JSON.parse(buf.toString("utf8"));
          if (!doc || typeof doc !== "object" || typeof doc.versions !== "object") throw new Error("no versions");
        } catch (err) {
          throw new UpstreamError(502, `Upstream packument for '${name}' is not valid: ${(err as Error).message}`);
        }
        return buf;
      },
    };
  }
  const t = parseTarballKey(key);
  if (!t) return null;
  // A cached tarball needs no plan: the packument is only read to fetch one.
  if (await req.storage.exists(key)) return {};
  // Where the upstream keeps it: the URL in the cached packument, else the conventional layout.
  const p = await upstreamPackument(docs, req, t.name).catch(() => null);
  const v = versionFromTarball(t.name, t.file);
  return {
    remotePath: upstreamTarballUrl(p, t.file) ?? `${encodeName(t.name)}/-/${encodeURIComponent(t.file)}`,
    releasedAt: v ? parseDate(p?.time?.[v]) : undefined,
  };
}

/** Cooldown on a proxy's packument: the document without blocked versions, or null when none is blocked. */
export async function filterPackument(docs: PackumentDocuments, key: string, doc: Buffer, req: FormatRequest): Promise<Buffer | null> {
  const name = packageOfPackumentKey(key);
  const p = name ? docs.decode(doc) : null;
  if (!name || !p) return null;
  const filtered = await cooldownPackument(req.services.cooldown, req.repo, name, p);
  return filtered === p ? null : docs.encode(filtered);
}

/** A group's packument: the members' documents merged (mergePackuments); null for other keys. */
export function mergePackumentDocs(docs: PackumentDocuments, key: string, parts: { bytes: Buffer }[]): Buffer | null {
  if (!packageOfPackumentKey(key)) return null;
  if (parts.length === 1) return parts[0].bytes;
  const packuments = parts.map((d) => docs.decode(d.bytes)).filter((p): p is Packument => p !== null);
  const merged = mergePackuments(packuments);
  return merged ? docs.encode(merged) : null;
}
