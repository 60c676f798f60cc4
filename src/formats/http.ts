// Small HTTP helpers shared by format modules: streaming a stored file (HEAD, Range),
// content types, directory listings.
import type Koa from "koa";
import type { ListEntry, Storage, StoredObject } from "../storage/types.js";
import { badRequest } from "../errors.js";

const TYPES: Record<string, string> = {
  jar: "application/java-archive",
  war: "application/java-archive",
  ear: "application/java-archive",
  pom: "application/xml",
  xml: "application/xml",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  md5: "text/plain; charset=utf-8",
  sha1: "text/plain; charset=utf-8",
  sha256: "text/plain; charset=utf-8",
  sha512: "text/plain; charset=utf-8",
  asc: "text/plain; charset=utf-8",
  html: "text/html; charset=utf-8",
  tgz: "application/gzip",
  gz: "application/gzip",
  zip: "application/zip",
  whl: "application/zip",
  yaml: "application/yaml",
  yml: "application/yaml",
};

export function contentTypeFor(key: string): string {
  const dot = key.lastIndexOf(".");
  return (dot >= 0 && TYPES[key.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "invalid" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null; // multi-range or junk: serve the whole file
  let start: number;
  let end: number;
  if (m[1] === "") {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return "invalid";
  return { start, end };
}

/**
 * Streams `key` from storage (HEAD: headers only; single byte ranges honoured).
 * Returns false when the key does not exist (nothing sent).
 */
export async function sendStored(ctx: Koa.Context, storage: Storage, key: string, opts: { contentType?: string; stat?: StoredObject } = {}): Promise<boolean> {
  const head = ctx.method === "HEAD";
  const rangeHeader = ctx.get("Range");
  if (!head && !rangeHeader) {
    // Common case: one read from storage, no separate stat; small files arrive whole and go out
    // as one buffer (no stream pipeline per request).
    const obj = await storage.get(key);
    if (!obj) return false;
    ctx.set("Accept-Ranges", "bytes");
    ctx.set("Last-Modified", obj.modified.toUTCString());
    ctx.status = 200;
    ctx.type = opts.contentType ?? contentTypeFor(key);
    if (obj.data) {
      ctx.body = obj.data;
      return true;
    }
    ctx.body = obj.stream;
    ctx.type = opts.contentType ?? contentTypeFor(key); // setting a stream body may reset the type
    ctx.length = obj.size;
    return true;
  }
  const st = opts.stat ?? (await storage.stat(key));
  if (!st) return false;
  ctx.set("Accept-Ranges", "bytes");
  ctx.set("Last-Modified", st.modified.toUTCString());
  ctx.type = opts.contentType ?? contentTypeFor(key);
  const range = parseRange(rangeHeader || undefined, st.size);
  if (range === "invalid") {
    ctx.status = 416;
    ctx.set("Content-Range", `bytes */${st.size}`);
    ctx.body = "";
    return true;
  }
  if (head) {
    ctx.body = null; // (clears Content-Length, so it is set after)
    ctx.status = 200;
    ctx.length = st.size;
    return true;
  }
  const obj = await storage.get(key, range ?? undefined);
  if (!obj) return false;
  if (range) {
    ctx.status = 206;
    ctx.set("Content-Range", `bytes ${range.start}-${range.end}/${obj.size}`);
    ctx.length = range.end - range.start + 1;
  } else {
    ctx.status = 200;
    ctx.length = obj.size;
  }
  ctx.body = obj.data ?? obj.stream;
  ctx.type = opts.contentType ?? contentTypeFor(key); // setting a stream body may reset the type
  return true;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** HTML (default) or JSON (Accept: application/json) listing of one folder. */
export function sendListing(ctx: Koa.Context, baseUrl: string, dir: string, entries: ListEntry[]): void {
  const items = entries
    .map((e) => {
      const full = e.key.replace(/\/+$/, "");
      const name = full.slice(full.lastIndexOf("/") + 1);
      return { name, path: full, type: e.kind, size: e.size, modified: e.modified };
    })
    .filter((i) => i.name && !i.name.startsWith(".pantera"))
    .sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "directory" ? -1 : 1));
  if (ctx.accepts("html", "json") === "json" && !ctx.get("Accept").includes("html")) {
    ctx.body = { path: dir, items };
    return;
  }
  const self = `${baseUrl}/${dir ? dir + "/" : ""}`;
  const rows = items
    .map((i) => {
      const href = self + encodeURIComponent(i.name) + (i.type === "directory" ? "/" : "");
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(i.name)}${i.type === "directory" ? "/" : ""}</a>${i.size !== undefined ? ` ${i.size}` : ""}</li>`;
    })
    .join("\n");
  ctx.type = "text/html; charset=utf-8";
  ctx.body = `<!DOCTYPE html>\n<html><head><title>Index of /${escapeHtml(dir)}</title></head><body><h1>Index of /${escapeHtml(dir)}</h1>\n<ul>\n${dir ? `<li><a href="../">../</a></li>\n` : ""}${rows}\n</ul></body></html>\n`;
}

/** Paths that must name a file, not the repository root or a folder. */
export function requireFilePath(path: string): string {
  if (!path || path.endsWith("/")) throw badRequest("A file path is required");
  return path;
}
