// Pure PyPI logic: name normalisation (PEP 503), distribution file names, the simple index in
// PEP 503 HTML and PEP 691 JSON (with PEP 700 upload-time/size/versions), parsing upstream
// indexes, content negotiation, and the one function assembling a project's file list (where
// cooldown can filter versions).
import { badRequest } from "../../errors.js";

export const JSON_V1 = "application/vnd.pypi.simple.v1+json";
export const HTML_V1 = "application/vnd.pypi.simple.v1+html";

/** PEP 503 normalised project name. */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

const PROJECT = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

export function validateProject(name: string): string {
  if (!PROJECT.test(name) || name.length > 200) throw badRequest(`Invalid Python project name '${name}'`);
  return name;
}

export interface PyFile {
  filename: string;
  /** Absolute URL (served) or upstream URL (proxy cache) of the file. */
  url: string;
  hashes: Record<string, string>;
  requiresPython?: string | null;
  /** ISO-8601 UTC. */
  uploadTime?: string | null;
  size?: number | null;
  yanked?: boolean | string;
  version?: string | null;
  /** Metadata file (PEP 658/714) availability, passed through for proxies. */
  coreMetadata?: boolean | Record<string, string>;
}

export interface ParsedFilename {
  project: string;
  version: string;
  kind: "wheel" | "sdist" | "egg";
}

const SDIST_EXT = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"];

/** Project and version of a distribution file name (wheel, sdist or egg); null when not one. */
export function parseFilename(filename: string): ParsedFilename | null {
  if (!filename || filename.includes("/") || filename.includes("\\")) return null;
  if (filename.endsWith(".whl")) {
    const parts = filename.slice(0, -4).split("-");
    if (parts.length !== 5 && parts.length !== 6) return null;
    return { project: parts[0], version: parts[1], kind: "wheel" };
  }
  if (filename.endsWith(".egg")) {
    const parts = filename.slice(0, -4).split("-");
    if (parts.length < 2) return null;
    return { project: parts[0], version: parts[1], kind: "egg" };
  }
  const ext = SDIST_EXT.find((e) => filename.toLowerCase().endsWith(e));
  if (!ext) return null;
  const stem = filename.slice(0, -ext.length);
  // The version starts at the last '-' followed by a digit (names may contain '-').
  const m = /^(.+?)-(\d[^-]*)$/.exec(stem) ?? /^(.+)-([^-]+)$/.exec(stem);
  if (!m) return null;
  return { project: m[1], version: m[2], kind: "sdist" };
}

// ---- content negotiation ----------------------------------------------------------------

/** PEP 691 negotiation: JSON when the client prefers it, HTML otherwise (also for text/html). */
export function negotiate(accept: string | undefined, format?: string): "json" | "html" {
  if (format === JSON_V1) return "json";
  if (format === HTML_V1 || format === "text/html") return "html";
  if (!accept) return "html";
  let best: { form: "json" | "html"; q: number } | null = null;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().split(";");
    const t = type.trim().toLowerCase();
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) : 1;
    const form = t === JSON_V1 ? "json" : t === HTML_V1 || t === "text/html" || t === "*/*" ? "html" : null;
    if (!form || Number.isNaN(q) || q <= 0) continue;
    if (!best || q > best.q) best = { form, q };
  }
  return best?.form ?? "html";
}

// ---- rendering -----------------------------------------------------------------------------

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;|&#x0*27;|&apos;/gi, "'")
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&amp;/g, "&");
}

function hashFragment(f: PyFile): string {
  for (const alg of ["sha256", "sha512", "sha384", "sha224", "sha1", "md5"]) if (f.hashes[alg]) return `#${alg}=${f.hashes[alg]}`;
  return "";
}

export function renderProjectHtml(project: string, files: PyFile[]): string {
  const lines = [
    "<!DOCTYPE html>",
    "<html>",
    "  <head>",
    '    <meta name="pypi:repository-version" content="1.1">',
    `    <title>Links for ${escapeHtml(project)}</title>`,
    "  </head>",
    "  <body>",
    `    <h1>Links for ${escapeHtml(project)}</h1>`,
  ];
  for (const f of files) {
    let attrs = `href="${escapeHtml(f.url + hashFragment(f))}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.yanked) attrs += ` data-yanked="${escapeHtml(typeof f.yanked === "string" ? f.yanked : "")}"`;
    if (f.coreMetadata) {
      const v = typeof f.coreMetadata === "object" ? (Object.entries(f.coreMetadata).map(([k, h]) => `${k}=${h}`)[0] ?? "true") : "true";
      attrs += ` data-dist-info-metadata="${escapeHtml(v)}" data-core-metadata="${escapeHtml(v)}"`;
    }
    lines.push(`    <a ${attrs}>${escapeHtml(f.filename)}</a><br/>`);
  }
  lines.push("  </body>", "</html>", "");
  return lines.join("\n");
}

export function renderProjectJson(project: string, files: PyFile[]): Record<string, unknown> {
  const versions = [...new Set(files.map((f) => f.version ?? parseFilename(f.filename)?.version).filter((v): v is string => !!v))];
  return {
    meta: { "api-version": "1.1" },
    name: normalize(project),
    versions,
    files: files.map((f) => {
      const o: Record<string, unknown> = { filename: f.filename, url: f.url, hashes: f.hashes };
      if (f.requiresPython) o["requires-python"] = f.requiresPython;
      if (typeof f.size === "number") o.size = f.size;
      if (f.uploadTime) o["upload-time"] = f.uploadTime;
      o.yanked = f.yanked ?? false;
      if (f.coreMetadata) o["core-metadata"] = f.coreMetadata;
      return o;
    }),
  };
}

export function renderIndexHtml(projects: string[]): string {
  const lines = [
    "<!DOCTYPE html>",
    "<html>",
    "  <head>",
    '    <meta name="pypi:repository-version" content="1.1">',
    "    <title>Simple index</title>",
    "  </head>",
    "  <body>",
  ];
  for (const p of projects) lines.push(`    <a href="${escapeHtml(normalize(p))}/">${escapeHtml(p)}</a><br/>`);
  lines.push("  </body>", "</html>", "");
  return lines.join("\n");
}

export function renderIndexJson(projects: string[]): Record<string, unknown> {
  return { meta: { "api-version": "1.1" }, projects: projects.map((name) => ({ name })) };
}

// ---- parsing upstream indexes ----------------------------------------------------------------

function resolveUrl(href: string, base: string): string {
  try {
    return new URL(href, base).toString();
  } catch {
    return href;
  }
}

function splitHash(url: string): { url: string; hashes: Record<string, string> } {
  const i = url.indexOf("#");
  if (i < 0) return { url, hashes: {} };
  const frag = url.slice(i + 1);
  const m = /^([a-z0-9]+)=([0-9a-f]+)$/i.exec(frag);
  return { url: url.slice(0, i), hashes: m ? { [m[1].toLowerCase()]: m[2].toLowerCase() } : {} };
}

/** Files of a PEP 691 JSON project page; relative URLs resolved against `pageUrl`. */
export function parseProjectJson(doc: unknown, pageUrl: string): PyFile[] {
  const files = (doc as { files?: unknown })?.files;
  if (!Array.isArray(files)) throw new Error("not a PEP 691 project page (no 'files')");
  const out: PyFile[] = [];
  for (const f of files) {
    if (!f || typeof f.filename !== "string" || typeof f.url !== "string") continue;
    const { url, hashes } = splitHash(resolveUrl(f.url, pageUrl));
    const h: Record<string, string> = { ...hashes };
    if (f.hashes && typeof f.hashes === "object") for (const [k, v] of Object.entries(f.hashes)) if (typeof v === "string") h[k] = v;
    out.push({
      filename: f.filename,
      url,
      hashes: h,
      requiresPython: typeof f["requires-python"] === "string" ? f["requires-python"] : null,
      uploadTime: typeof f["upload-time"] === "string" ? f["upload-time"] : null,
      size: typeof f.size === "number" ? f.size : null,
      yanked: f.yanked === true || (typeof f.yanked === "string" && f.yanked) ? f.yanked : false,
      version: parseFilename(f.filename)?.version ?? null,
      coreMetadata: f["core-metadata"] ?? f["dist-info-metadata"] ?? undefined,
    });
  }
  return out;
}

/** Files of a PEP 503 HTML project page. */
export function parseProjectHtml(html: string, pageUrl: string): PyFile[] {
  const out: PyFile[] = [];
  const anchor = /<a\s([^>]*)>([\s\S]*?)<\/a>/gi;
  let m: RegExpExecArray | null;
  while ((m = anchor.exec(html))) {
    const attrs: Record<string, string> = {};
    const attr = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    let a: RegExpExecArray | null;
    while ((a = attr.exec(m[1]))) attrs[a[1].toLowerCase()] = unescapeHtml(a[2] ?? a[3] ?? a[4] ?? "");
    if (!attrs.href) continue;
    const { url, hashes } = splitHash(resolveUrl(attrs.href, pageUrl));
    const filename = unescapeHtml(m[2].replace(/<[^>]*>/g, "").trim()) || decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
    out.push({
      filename,
      url,
      hashes,
      requiresPython: attrs["data-requires-python"] || null,
      uploadTime: null,
      size: null,
      yanked: "data-yanked" in attrs ? attrs["data-yanked"] || true : false,
      version: parseFilename(filename)?.version ?? null,
    });
  }
  return out;
}

/**
 * THE file-list assembly step of every project page this server answers with: `keep` decides per
 * version (cooldown inserts its filter here), files are ordered by version then name.
 */
export function assembleFiles(files: PyFile[], keep?: (version: string, uploadedAt: Date | null) => boolean): PyFile[] {
  const out = files.filter((f) => {
    if (!keep) return true;
    const v = f.version ?? parseFilename(f.filename)?.version ?? "";
    const t = f.uploadTime && !Number.isNaN(Date.parse(f.uploadTime)) ? new Date(f.uploadTime) : null;
    return keep(v, t);
  });
  return out.sort((a, b) => a.filename.localeCompare(b.filename));
}

/** Group merge: members in order, the first one that has a file name wins it. */
export function mergeFiles(lists: PyFile[][]): PyFile[] {
  const seen = new Map<string, PyFile>();
  for (const list of lists) for (const f of list) if (!seen.has(f.filename)) seen.set(f.filename, f);
  return [...seen.values()];
}
