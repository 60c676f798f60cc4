// Writing an operation's result to the client: stored files (HEAD, single byte ranges,
// Last-Modified, an ETag from the content's digest, 304 on If-None-Match / If-Modified-Since)
// and plain replies. The only place the kit's formats meet Koa's response.
import { createHash } from "node:crypto";
import type Koa from "koa";
import { Readable } from "node:stream";
import type { ArtifactIndex, FileHit, OperationResult, Reply } from "./contract.js";
import { isFileReply } from "./contract.js";

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

/** A single `bytes=` range of a `size`-byte entity; null: whole entity; "invalid": 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "invalid" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null; // multi-range or junk: serve the whole file
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return "invalid";
  return { start, end };
}

const sha256Tag = (data: Buffer) => `"${createHash("sha256").update(data).digest("hex")}"`;

/**
 * Entity tags of stored files: the SHA-256 of the content, taken from the bytes when the driver
 * has them in memory, from the artifacts index, or while the file streams out the first time.
 * Remembered per (repository, key, size, mtime), so a changed file gets a new tag. One per node.
 */
export class EntityTags {
  private readonly known = new Map<string, string>();
  /** Tags of in-memory contents by the buffer itself: a driver's small-file cache hands out the same buffer per read. */
  private readonly ofBytes = new WeakMap<Buffer, string>();
  constructor(private readonly index: Pick<ArtifactIndex, "find">) {}

  private static id(hit: FileHit): string {
    return `${hit.repo.name}\0${hit.key}\0${hit.stat.size}\0${hit.stat.modified.getTime()}`;
  }

  cached(hit: FileHit): string | undefined {
    return this.known.get(EntityTags.id(hit));
  }

  remember(hit: FileHit, tag: string): string {
    if (this.known.size > 100_000) this.known.clear(); // bounded
    this.known.set(EntityTags.id(hit), tag);
    return tag;
  }

  /** The tag of bytes in memory (hashed once per buffer). */
  ofData(data: Buffer): string {
    let tag = this.ofBytes.get(data);
    if (!tag) this.ofBytes.set(data, (tag = sha256Tag(data)));
    return tag;
  }

  /** The tag of `hit` when it can be had without reading the file (cache, in-memory bytes, the index). */
  async lookup(hit: FileHit, data?: Buffer): Promise<string | undefined> {
    const cached = this.cached(hit);
    if (cached) return cached;
    if (data) return this.remember(hit, sha256Tag(data));
    const row = await this.index.find(hit.repo.name, hit.key).catch(() => null);
    const sha256 = (row?.checksums as Record<string, unknown> | undefined)?.sha256;
    if (row && Number(row.size) === hit.stat.size && typeof sha256 === "string" && /^[0-9a-f]{64}$/.test(sha256)) return this.remember(hit, `"${sha256}"`);
    return undefined;
  }

  /** Hashes `stream` as it is sent and remembers the tag once it has been read to the end. */
  tap(hit: FileHit, stream: Readable): void {
    const hash = createHash("sha256");
    stream.on("data", (chunk: Buffer) => hash.update(chunk));
    stream.once("end", () => this.remember(hit, `"${hash.digest("hex")}"`));
  }
}

/** RFC 9110 §13.1.2: does If-None-Match match `tag` (weak comparison)? */
function noneMatch(header: string, tag: string): boolean {
  if (header.trim() === "*") return true;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  const want = strip(tag);
  return header.split(",").some((t) => strip(t) === want);
}

/** Whether the client's copy is current: If-None-Match decides when sent, else If-Modified-Since. */
function notModified(ctx: Koa.Context, tag: string | undefined, modified: Date | undefined): boolean {
  if (ctx.method !== "GET" && ctx.method !== "HEAD") return false;
  const inm = ctx.get("If-None-Match");
  if (inm) return !!tag && noneMatch(inm, tag);
  const ims = ctx.get("If-Modified-Since");
  if (!ims || !modified) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(modified.getTime() / 1000) * 1000 <= since;
}

function sendNotModified(ctx: Koa.Context, tag: string | undefined, modified: Date | undefined): void {
  ctx.status = 304;
  if (tag) ctx.set("ETag", tag);
  if (modified) ctx.set("Last-Modified", modified.toUTCString());
  ctx.body = null;
}

async function sendFile(
  ctx: Koa.Context,
  r: { file: FileHit; status?: number; type?: string; headers?: Record<string, string> },
  tags: EntityTags,
): Promise<boolean> {
  const { file } = r;
  const type = r.type ?? contentTypeFor(file.key);
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
  if (file.bytes) {
    sendBytes(ctx, { status: r.status ?? 200, body: file.bytes, type, cacheable: true }, file.stat.modified);
    return true;
  }
  const head = ctx.method === "HEAD";
  // (An `opened` file was read for a plain GET: no range or validators to look for.)
  const rangeHeader = file.opened ? "" : ctx.get("Range");
  const conditional = !file.opened && !!(ctx.get("If-None-Match") || ctx.get("If-Modified-Since"));
  if (!head && !rangeHeader && !conditional) {
    // Common case: one read from storage, no separate stat; small files arrive whole and go out as one buffer.
    const obj = file.opened ?? (await file.storage.get(file.key));
    if (!obj) return false;
    const hit = file.opened ? file : { ...file, stat: { key: file.key, size: obj.size, modified: obj.modified } };
    // (The index is asked once per file and node: the tag is remembered, or taken while streaming.)
    const tag = obj.data ? tags.ofData(obj.data) : (tags.cached(hit) ?? (await tags.lookup(hit)));
    ctx.set("Accept-Ranges", "bytes");
    ctx.set("Last-Modified", obj.modified.toUTCString());
    if (tag) ctx.set("ETag", tag);
    ctx.status = r.status ?? 200;
    if (obj.data) {
      ctx.body = obj.data;
    } else {
      if (!tag) tags.tap(hit, obj.stream);
      ctx.body = obj.stream;
      ctx.length = obj.size;
    }
    ctx.type = type; // after the body: setting a stream body may reset the type
    return true;
  }
  const stat = await file.storage.stat(file.key);
  if (!stat) return false;
  const hit = { ...file, stat };
  const tag = await tags.lookup(hit);
  ctx.set("Accept-Ranges", "bytes");
  ctx.set("Last-Modified", stat.modified.toUTCString());
  if (tag) ctx.set("ETag", tag);
  if (notModified(ctx, tag, stat.modified)) {
    sendNotModified(ctx, tag, stat.modified);
    return true;
  }
  ctx.type = type;
  const range = parseRange(rangeHeader || undefined, stat.size);
  if (range === "invalid") {
    ctx.status = 416;
    ctx.set("Content-Range", `bytes */${stat.size}`);
    ctx.body = "";
    return true;
  }
  if (head) {
    ctx.body = null; // (clears Content-Length, so it is set after)
    ctx.status = r.status ?? 200;
    ctx.length = stat.size;
    return true;
  }
  const obj = await file.storage.get(file.key, range ?? undefined);
  if (!obj) return false;
  if (range) {
    ctx.status = 206;
    ctx.set("Content-Range", `bytes ${range.start}-${range.end}/${obj.size}`);
    ctx.length = range.end - range.start + 1;
  } else {
    ctx.status = r.status ?? 200;
    ctx.length = obj.size;
    if (!tag && !obj.data) tags.tap(hit, obj.stream);
  }
  ctx.body = obj.data ?? obj.stream;
  ctx.type = type;
  return true;
}

function sendBytes(ctx: Koa.Context, r: Reply, modified?: Date): void {
  const body = r.body;
  const data =
    body === null || body === undefined || body instanceof Readable
      ? undefined
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const tag = r.cacheable && data ? sha256Tag(data) : undefined;
  if (tag) ctx.set("ETag", tag);
  if (modified) ctx.set("Last-Modified", modified.toUTCString());
  if (tag && notModified(ctx, tag, undefined)) {
    sendNotModified(ctx, tag, modified);
    return;
  }
  ctx.status = r.status;
  if (body instanceof Readable) {
    // HEAD: the stream is never read.
    if (ctx.method === "HEAD") body.destroy();
    else ctx.body = body;
  } else if (data === undefined) ctx.body = r.status === 204 || r.status === 304 ? null : "";
  else ctx.body = data;
  const type =
    r.type ??
    (body === null || body === undefined
      ? undefined
      : Buffer.isBuffer(body) || body instanceof Readable
        ? "application/octet-stream"
        : typeof body === "string"
          ? "text/plain; charset=utf-8"
          : "application/json");
  if (type) ctx.type = type; // (HEAD: Koa sends the headers of a buffer body, Content-Length included, and drops the body)
  if (r.length !== undefined) ctx.length = r.length;
}

/** Writes `result` to the response; false when a file reply's file vanished before it could be read. */
export function renderResult(ctx: Koa.Context, result: OperationResult, tags: EntityTags): Promise<boolean> | boolean {
  if (isFileReply(result)) return sendFile(ctx, result, tags);
  if (result.headers) for (const [k, v] of Object.entries(result.headers)) ctx.set(k, v);
  sendBytes(ctx, result);
  return true;
}
