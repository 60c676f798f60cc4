// S3 storage driver: hand-rolled AWS Signature V4 over fetch (no SDK).
// Writes: bodies up to one part are buffered, digested, verified, then PUT (S3 publishes
// atomically); larger bodies stream as a multipart upload in PART_SIZE chunks (never the whole
// file in memory), and are only completed once every digest matches, else aborted.
import { createHash, createHmac } from "node:crypto";
import { Readable } from "node:stream";
import { badRequest, conflict, unavailable } from "../errors.js";
import { DigestStream, toReadable, verifyDigests } from "./digest.js";
import { networkReason, StorageUnavailableError } from "./errors.js";
import {
  deleteEach,
  directoryMoveKeys,
  finishListing,
  moveFilesUnder,
  normaliseKey,
  splitListPrefix,
  type ListEntry,
  type PutOptions,
  type PutResult,
  type Storage,
  type StoredObject,
} from "./types.js";
import type { StorageDriver } from "./driver.js";
import { isObject } from "../json.js";

export const PART_SIZE = 8 * 1024 * 1024;
const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

export interface S3Config {
  bucket: string;
  region?: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  pathStyle?: boolean;
  /** Key prefix inside the bucket (without leading '/'). */
  prefix?: string;
  partSize?: number;
}

/** RFC 3986 encoding as SigV4 wants it. */
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const unxml = (s: string) =>
  s.replace(/&(#x?[0-9a-fA-F]+|\w+);/g, (m, e: string) =>
    e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (XML_ENTITIES[e] ?? m),
  );
const tag = (xml: string, name: string) => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
const tags = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]);

/** AWS Signature Version 4 `Authorization` header value; every header given is signed. */
export function signV4(a: {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  headers: Record<string, string>;
  payloadHash: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  amzDate: string;
}): string {
  const date = a.amzDate.slice(0, 8);
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.headers)) lower[k.toLowerCase()] = String(v).trim().replace(/\s+/g, " ");
  const signed = Object.keys(lower).sort();
  const canonicalHeaders = signed.map((h) => `${h}:${lower[h]}\n`).join("");
  const signedHeaders = signed.join(";");
  const canonical = [a.method, a.canonicalUri, a.canonicalQuery, canonicalHeaders, signedHeaders, a.payloadHash].join("\n");
  const scope = `${date}/${a.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", a.amzDate, scope, sha256(canonical)].join("\n");
  const kSigning = hmac(hmac(hmac(hmac("AWS4" + a.secretAccessKey, date), a.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex");
  return `AWS4-HMAC-SHA256 Credential=${a.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

interface S3Request {
  method: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

export class S3Storage implements Storage {
  private readonly base: URL;
  private readonly region: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(private cfg: S3Config) {
    this.region = cfg.region ?? "us-east-1";
    const endpoint = cfg.endpoint ?? `https://s3.${this.region}.amazonaws.com`;
    const u = new URL(endpoint);
    if (!cfg.pathStyle) u.hostname = `${cfg.bucket}.${u.hostname}`;
    this.base = u;
    const p = normaliseKey(cfg.prefix ?? "");
    this.prefix = p ? p + "/" : "";
    this.partSize = cfg.partSize ?? PART_SIZE;
  }

  private objectKey(key: string): string {
    const k = normaliseKey(key);
    if (!k) throw badRequest("Storage key must not be empty");
    return this.prefix + k;
  }

  private url(key: string | undefined, query: Record<string, string>): { url: URL; canonicalUri: string; canonicalQuery: string } {
    const segments: string[] = [];
    const basePath = this.base.pathname.replace(/\/+$/, "");
    if (this.cfg.pathStyle) segments.push(this.cfg.bucket);
    if (key !== undefined) segments.push(...key.split("/"));
    const canonicalUri = basePath + "/" + segments.map(enc).join("/");
    const canonicalQuery = Object.keys(query)
      .sort()
      .map((k) => `${enc(k)}=${enc(query[k])}`)
      .join("&");
    const url = new URL(this.base.origin + canonicalUri + (canonicalQuery ? "?" + canonicalQuery : ""));
    return { url, canonicalUri, canonicalQuery };
  }

  /** Signs and sends one request (SigV4, UNSIGNED-PAYLOAD for bodies). */
  private async send(req: S3Request): Promise<Response> {
    const query = req.query ?? {};
    const { url, canonicalUri, canonicalQuery } = this.url(req.key, query);
    const now = new Date();
    const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
    const payloadHash = req.body ? "UNSIGNED-PAYLOAD" : EMPTY_SHA256;
    const headers: Record<string, string> = { ...(req.headers ?? {}), host: url.host, "x-amz-date": amzDate, "x-amz-content-sha256": payloadHash };
    if (this.cfg.sessionToken) headers["x-amz-security-token"] = this.cfg.sessionToken;
    if (this.cfg.accessKeyId && this.cfg.secretAccessKey) {
      const toSign: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) {
        const h = k.toLowerCase();
        if (h === "host" || h.startsWith("x-amz-") || h === "content-type" || h === "content-md5") toSign[h] = v;
      }
      headers.authorization = signV4({
        method: req.method,
        canonicalUri,
        canonicalQuery,
        headers: toSign,
        payloadHash,
        region: this.region,
        accessKeyId: this.cfg.accessKeyId,
        secretAccessKey: this.cfg.secretAccessKey,
        amzDate,
      });
    }
    delete headers.host;
    try {
      return await fetch(url, {
        method: req.method,
        headers,
        body: req.body ? (req.body as unknown as BodyInit) : undefined,
        signal: AbortSignal.timeout(300_000),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  /** A network failure talking to the endpoint (refused, reset, timed out): the storage is unavailable. */
  private unreachable(err: unknown): StorageUnavailableError {
    return new StorageUnavailableError(`S3 storage at ${this.base.origin} is unreachable: ${networkReason(err)}`, { cause: err });
  }

  /** A response body read whole; a connection lost while reading is the storage's outage, as in `send`. */
  private async text(res: Response): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  /** A response body as a stream whose network failures are StorageUnavailableErrors too. */
  private stream(body: ReadableStream<Uint8Array>): Readable {
    const source = Readable.fromWeb(body as import("node:stream/web").ReadableStream);
    const unreachable = (err: unknown) => this.unreachable(err);
    return Readable.from(
      (async function* () {
        try {
          yield* source;
        } catch (err) {
          throw unreachable(err);
        }
      })(),
      { objectMode: false },
    );
  }

  private async fail(res: Response, what: string): Promise<never> {
    const body = await res.text().catch(() => "");
    const code = tag(body, "Code") ?? String(res.status);
    const message = tag(body, "Message") ?? "";
    throw unavailable(`S3 ${what} failed: ${res.status} ${code}${message ? " " + unxml(message) : ""}`);
  }

  async get(key: string, range?: { start: number; end?: number }) {
    const k = this.objectKey(key);
    const headers: Record<string, string> = {};
    if (range) headers.range = `bytes=${Math.max(0, range.start)}-${range.end ?? ""}`;
    const res = await this.send({ method: "GET", key: k, headers });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status === 416) {
      await res.body?.cancel();
      const st = await this.stat(key);
      return st ? { stream: Readable.from([]), size: st.size, modified: st.modified } : null;
    }
    if (!res.ok) return this.fail(res, `GET ${k}`);
    const total = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1];
    const size = Number(total ?? res.headers.get("content-length") ?? 0);
    const modified = new Date(res.headers.get("last-modified") ?? Date.now());
    const stream = res.body ? this.stream(res.body) : Readable.from([]);
    return { stream, size, modified };
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    const k = this.objectKey(key);
    const digest = new DigestStream();
    const input = toReadable(body);
    input.on("error", (err: Error) => digest.destroy(err));
    const source = input.pipe(digest);
    let pending: Buffer[] = [];
    let pendingSize = 0;
    let uploadId: string | undefined;
    const parts: string[] = [];
    const uploadPart = async (buf: Buffer) => {
      if (!uploadId) {
        const res = await this.send({ method: "POST", key: k, query: { uploads: "" } });
        if (!res.ok) return this.fail(res, `CreateMultipartUpload ${k}`);
        uploadId = tag(await this.text(res), "UploadId");
        if (!uploadId) throw unavailable("S3 CreateMultipartUpload returned no UploadId");
      }
      const partNumber = parts.length + 1;
      const res = await this.send({
        method: "PUT",
        key: k,
        query: { partNumber: String(partNumber), uploadId },
        body: buf,
        headers: { "content-length": String(buf.length) },
      });
      if (!res.ok) return this.fail(res, `UploadPart ${k}`);
      await res.body?.cancel();
      parts.push(res.headers.get("etag") ?? "");
    };
    const abort = async () => {
      if (uploadId)
        await this.send({ method: "DELETE", key: k, query: { uploadId } })
          .then((r) => r.body?.cancel())
          .catch(() => {});
    };
    try {
      for await (const chunk of source) {
        pending.push(chunk as Buffer);
        pendingSize += (chunk as Buffer).length;
        while (pendingSize >= this.partSize) {
          const all = Buffer.concat(pending);
          await uploadPart(all.subarray(0, this.partSize));
          const rest = all.subarray(this.partSize);
          pending = rest.length ? [rest] : [];
          pendingSize = rest.length;
        }
      }
      const digests = digest.digests();
      verifyDigests(digests, opts.expect);
      if (opts.ifNotExists && (await this.stat(key))) throw conflict(`'${normaliseKey(key)}' already exists`);
      if (!uploadId) {
        const buf = Buffer.concat(pending);
        const res = await this.send({ method: "PUT", key: k, body: buf, headers: { "content-length": String(buf.length) } });
        if (!res.ok) return this.fail(res, `PUT ${k}`);
        await res.body?.cancel();
      } else {
        if (pendingSize > 0) await uploadPart(Buffer.concat(pending));
        const xml =
          "<CompleteMultipartUpload>" +
          parts.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}</ETag></Part>`).join("") +
          "</CompleteMultipartUpload>";
        const res = await this.send({ method: "POST", key: k, query: { uploadId }, body: Buffer.from(xml), headers: { "content-type": "application/xml" } });
        const text = await this.text(res);
        // S3 may answer 200 with an <Error> body.
        if (!res.ok || text.includes("<Error>")) throw unavailable(`S3 CompleteMultipartUpload ${k} failed: ${res.status} ${tag(text, "Code") ?? ""}`);
        uploadId = undefined;
      }
      return { size: digest.size, digests };
    } catch (err) {
      await abort();
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<StoredObject | null> {
    const k = this.objectKey(key);
    const res = await this.send({ method: "HEAD", key: k });
    if (res.status === 404) return null;
    if (!res.ok) throw unavailable(`S3 HEAD ${k} failed: ${res.status}`);
    return { key: normaliseKey(key), size: Number(res.headers.get("content-length") ?? 0), modified: new Date(res.headers.get("last-modified") ?? Date.now()) };
  }

  async list(prefix: string, opts: { delimiter?: "/"; limit?: number; after?: string } = {}): Promise<ListEntry[]> {
    const { dir, rest } = splitListPrefix(prefix);
    if (rest === ".." || rest.includes("\0")) throw badRequest("Invalid listing prefix");
    const full = this.prefix + (dir ? dir + "/" : "") + rest;
    const out: ListEntry[] = [];
    let token: string | undefined;
    for (;;) {
      const query: Record<string, string> = { "list-type": "2", prefix: full };
      if (opts.delimiter) query.delimiter = "/";
      if (token) query["continuation-token"] = token;
      else if (opts.after !== undefined) query["start-after"] = this.prefix + opts.after;
      const res = await this.send({ method: "GET", query });
      if (!res.ok) return this.fail(res, `ListObjectsV2 ${full}`);
      const xml = await this.text(res);
      for (const c of tags(xml, "Contents")) {
        const key = unxml(tag(c, "Key") ?? "").slice(this.prefix.length);
        out.push({ key, kind: "file", size: Number(tag(c, "Size") ?? 0), modified: new Date(tag(c, "LastModified") ?? 0) });
      }
      for (const p of tags(xml, "CommonPrefixes")) out.push({ key: unxml(tag(p, "Prefix") ?? "").slice(this.prefix.length), kind: "directory" });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
      if (tag(xml, "IsTruncated") !== "true") break;
      token = unxml(tag(xml, "NextContinuationToken") ?? "");
      if (!token) break;
    }
    return finishListing(out, opts);
  }

  async delete(key: string): Promise<boolean> {
    if (!(await this.stat(key))) return false;
    const k = this.objectKey(key);
    const res = await this.send({ method: "DELETE", key: k });
    if (!res.ok && res.status !== 404) return this.fail(res, `DELETE ${k}`);
    await res.body?.cancel();
    return true;
  }

  async deletePrefix(prefix: string): Promise<number> {
    return deleteEach(this, await this.list(prefix));
  }

  async move(from: string, to: string): Promise<void> {
    if (from.endsWith("/")) {
      const { src, dst } = directoryMoveKeys(from, to);
      await moveFilesUnder(this, src, dst);
      return;
    }
    const s = this.objectKey(from);
    const d = this.objectKey(to);
    const source = "/" + [this.cfg.bucket, ...s.split("/")].map(enc).join("/");
    const res = await this.send({ method: "PUT", key: d, headers: { "x-amz-copy-source": source } });
    const text = await this.text(res);
    if (res.status === 404) return;
    if (!res.ok || text.includes("<Error>")) throw unavailable(`S3 CopyObject ${s} -> ${d} failed: ${res.status} ${tag(text, "Code") ?? ""}`);
    const del = await this.send({ method: "DELETE", key: s });
    await del.body?.cancel();
  }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,62}$/;

/**
 * `{ "type": "s3", "bucket", "region"?, "endpoint"?, "credentials"?: { accessKeyId | access-key-id,
 * secretAccessKey | secret-access-key, sessionToken? }, "path-style" | "pathStyle"?, "prefix"? }`.
 * Path-style addressing defaults to on with a custom endpoint (MinIO and the like). Credentials
 * the alias leaves out come from the node's AWS_* environment when the storage is built.
 */
export const s3Driver: StorageDriver<S3Config> = {
  type: "s3",
  parseConfig(raw) {
    if (typeof raw.bucket !== "string" || !BUCKET.test(raw.bucket)) throw badRequest("An s3 storage needs a valid 'bucket'");
    if (raw.region !== undefined && typeof raw.region !== "string") throw badRequest("'region' must be a string");
    if (raw.endpoint !== undefined) {
      if (typeof raw.endpoint !== "string") throw badRequest("'endpoint' must be a URL");
      let u: URL;
      try {
        u = new URL(raw.endpoint);
      } catch {
        throw badRequest(`'endpoint' is not a valid URL: ${raw.endpoint}`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") throw badRequest("'endpoint' must be an http(s) URL");
    }
    let creds: Record<string, unknown> = {};
    if (raw.credentials !== undefined) {
      if (!isObject(raw.credentials)) throw badRequest("'credentials' must be an object");
      creds = raw.credentials;
      const id = creds.accessKeyId ?? creds["access-key-id"];
      const secret = creds.secretAccessKey ?? creds["secret-access-key"];
      if (typeof id !== "string" || typeof secret !== "string") throw badRequest("'credentials' needs 'accessKeyId' and 'secretAccessKey'");
    }
    for (const k of ["path-style", "pathStyle"]) {
      if (raw[k] !== undefined && typeof raw[k] !== "boolean") throw badRequest(`'${k}' must be a boolean`);
    }
    if (raw.prefix !== undefined && typeof raw.prefix !== "string") throw badRequest("'prefix' must be a string");
    // Empty strings count as not given.
    const s = (v: unknown) => (typeof v === "string" && v ? v : undefined);
    const endpoint = s(raw.endpoint);
    const pathStyle = raw["path-style"] ?? raw.pathStyle;
    return {
      bucket: raw.bucket,
      region: s(raw.region),
      endpoint,
      accessKeyId: s(creds.accessKeyId) ?? s(creds["access-key-id"]),
      secretAccessKey: s(creds.secretAccessKey) ?? s(creds["secret-access-key"]),
      sessionToken: s(creds.sessionToken),
      pathStyle: typeof pathStyle === "boolean" ? pathStyle : !!endpoint,
      prefix: s(raw.prefix),
    };
  },
  create: (config) =>
    new S3Storage({
      ...config,
      accessKeyId: config.accessKeyId ?? process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: config.secretAccessKey ?? process.env.AWS_SECRET_ACCESS_KEY,
      sessionToken: config.sessionToken ?? process.env.AWS_SESSION_TOKEN,
    }),
};
