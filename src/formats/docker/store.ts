// The storage layout of one docker repository (hosted content, or a proxy's cache):
//   _blobs/<alg>/<hex>                                 blob content (shared by every image of the repository)
//   _uploads/<uuid>/image                              upload session: the image it belongs to
//   _uploads/<uuid>/part-<offset>                      upload session: received chunks
//   <image>/_manifests/revisions/<alg>/<hex>           manifest bytes
//   <image>/_manifests/revisions/<alg>/<hex>.type      media type, only when the body has no mediaType
//   <image>/_manifests/tags/<tag>                      digest the tag points at
//   <image>/_manifests/known                           written by deletes: the image stays known (tags/list
//                                                      answers 200 with no tags) once its last manifest is gone
//   <image>/_referrers/<alg>/<subject-hex>/<alg>-<hex> descriptor of a manifest whose subject is that digest
// Image components never start with '_', so these names cannot collide with image paths.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { Storage } from "../../storage/types.js";
import { DigestingStream, digestOf, parseDigest, requireDigest, type Digest } from "./digest.js";
import { ociError } from "./errors.js";
import { MAX_MANIFEST_BYTES, parseManifest, referrerArtifactType, type Descriptor, type ParsedManifest } from "./manifest.js";
import { readBounded } from "../../streams.js";
import { filesOf, foldersOf } from "../kit/listing.js";

export interface StoredManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

export interface BlobStream {
  stream: Readable;
  size: number;
  /** The same bytes in one buffer when the storage holds them in memory (small blobs): send it, don't modify it. */
  data?: Buffer;
  /** Inclusive range actually served, when a range was asked for. */
  range?: { start: number; end: number };
}

/** Where pulls are served from: a hosted store, a proxy or a group (sources.ts). */
export interface PullSource {
  manifest(image: string, reference: string): Promise<StoredManifest | null>;
  blob(image: string, digest: string, range?: { start: number; end?: number }): Promise<BlobStream | null>;
  blobSize(image: string, digest: string): Promise<number | null>;
  /** null when the image is unknown to this source. */
  tags(image: string): Promise<string[] | null>;
  referrers(image: string, digest: string): Promise<Descriptor[]>;
}

const blobKey = (d: Digest) => `_blobs/${d.algorithm}/${d.hex}`;
const revisionKey = (image: string, d: Digest) => `${image}/_manifests/revisions/${d.algorithm}/${d.hex}`;
const tagKey = (image: string, tag: string) => `${image}/_manifests/tags/${tag}`;
const knownKey = (image: string) => `${image}/_manifests/known`;
const referrersPrefix = (image: string, subject: Digest) => `${image}/_referrers/${subject.algorithm}/${subject.hex}/`;
const UPLOAD_ID_RE = /^[a-f0-9-]{36}$/;

export function readAll(stream: Readable, limit = Infinity): Promise<Buffer> {
  return readBounded(stream, limit, () => ociError("SIZE_INVALID", `Body exceeds ${limit} bytes`, undefined, 413));
}

export class DockerStore {
  constructor(readonly storage: Storage) {}

  // ---- blobs ------------------------------------------------------------

  async statBlob(digest: string): Promise<{ size: number } | null> {
    const d = requireDigest(digest);
    const st = await this.storage.stat(blobKey(d));
    return st ? { size: st.size } : null;
  }

  async getBlob(digest: string, range?: { start: number; end?: number }): Promise<BlobStream | null> {
    const d = requireDigest(digest);
    if (range) {
      const st = await this.storage.stat(blobKey(d));
      if (!st) return null;
      const end = Math.min(range.end ?? st.size - 1, st.size - 1);
      if (range.start > end) throw ociError("BLOB_UNKNOWN", "Requested range not satisfiable", { size: st.size }, 416);
      const got = await this.storage.get(blobKey(d), { start: range.start, end });
      return got ? { stream: got.stream, size: st.size, range: { start: range.start, end } } : null;
    }
    // The driver's result as is: its stream is built only if read (small blobs are sent from `data`).
    return this.storage.get(blobKey(d));
  }

  /** Streams `body` into the blob store, publishing only when its digest matches. */
  async putBlob(digest: string, body: Readable | Buffer): Promise<{ size: number }> {
    const d = requireDigest(digest);
    const hasher = new DigestingStream(d.algorithm);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    source.on("error", (e) => hasher.destroy(e));
    source.pipe(hasher);
    try {
      const res = await this.storage.put(blobKey(d), hasher, { expect: { [d.algorithm]: d.hex } });
      return { size: res.size };
    } catch (err) {
      if (hasher.writableFinished && hasher.digest() !== `${d.algorithm}:${d.hex}`) {
        throw ociError("DIGEST_INVALID", `Content does not match digest ${d.algorithm}:${d.hex}`, {
          expected: `${d.algorithm}:${d.hex}`,
          actual: hasher.digest(),
        });
      }
      throw err;
    }
  }

  async deleteBlob(digest: string): Promise<boolean> {
    return this.storage.delete(blobKey(requireDigest(digest)));
  }

  // ---- uploads ----------------------------------------------------------

  async startUpload(image: string): Promise<string> {
    const id = randomUUID();
    await this.storage.put(`_uploads/${id}/image`, image);
    return id;
  }

  /** The image an upload belongs to and the bytes received so far; null when unknown. */
  async uploadState(id: string): Promise<{ image: string; size: number; parts: { key: string; size: number }[] } | null> {
    if (!UPLOAD_ID_RE.test(id)) return null;
    const got = await this.storage.get(`_uploads/${id}/image`);
    if (!got) return null;
    const image = (await readAll(got.stream, 1024)).toString();
    const entries = await this.storage.list(`_uploads/${id}/`);
    const parts = filesOf(entries)
      .filter((e) => /\/part-\d+$/.test(e.key))
      .map((e) => ({ key: e.key, size: e.size ?? 0, offset: Number(e.key.slice(e.key.lastIndexOf("-") + 1)) }))
      .sort((a, b) => a.offset - b.offset);
    return { image, size: parts.reduce((n, p) => n + p.size, 0), parts };
  }

  /** Appends one chunk at `offset` (the current size); the chunk becomes visible only when fully received. */
  async appendUpload(id: string, offset: number, body: Readable | Buffer): Promise<number> {
    const res = await this.storage.put(`_uploads/${id}/part-${String(offset).padStart(15, "0")}`, body);
    return res.size;
  }

  /** Concatenates the received chunks into the blob store under `digest`, then drops the session. */
  async completeUpload(id: string, digest: string): Promise<{ size: number }> {
    const state = await this.uploadState(id);
    if (!state) throw ociError("BLOB_UPLOAD_UNKNOWN", `Upload ${id} is unknown`);
    const storage = this.storage;
    async function* concat() {
      for (const p of state!.parts) {
        const got = await storage.get(p.key);
        if (!got) throw ociError("BLOB_UPLOAD_INVALID", "Upload chunk vanished");
        for await (const chunk of got.stream) yield chunk as Buffer;
      }
    }
    const res = await this.putBlob(digest, Readable.from(concat()));
    await this.cancelUpload(id);
    return res;
  }

  /** Drops upload sessions started more than `maxAgeMs` ago (abandoned by their clients); returns how many. */
  async sweepUploads(maxAgeMs: number): Promise<number> {
    let n = 0;
    for (const e of foldersOf(await this.storage.list("_uploads/", { delimiter: "/" }))) {
      const id = e.key.slice("_uploads/".length).replace(/\/$/, "");
      const st = await this.storage.stat(`_uploads/${id}/image`);
      if (!st || Date.now() - st.modified.getTime() >= maxAgeMs) {
        await this.storage.deletePrefix(`_uploads/${id}/`);
        n++;
      }
    }
    return n;
  }

  async cancelUpload(id: string): Promise<boolean> {
    if (!UPLOAD_ID_RE.test(id)) return false;
    return (await this.storage.deletePrefix(`_uploads/${id}/`)) > 0;
  }

  // ---- manifests --------------------------------------------------------

  async resolveTag(image: string, tag: string): Promise<string | null> {
    const got = await this.storage.get(tagKey(image, tag));
    if (!got) return null;
    const digest = (await readAll(got.stream, 1024)).toString().trim();
    return parseDigest(digest) ? digest : null;
  }

  /** When a tag was last written (proxies use it as the metadata age). */
  async tagModified(image: string, tag: string): Promise<Date | null> {
    return (await this.storage.stat(tagKey(image, tag)))?.modified ?? null;
  }

  async getManifest(image: string, reference: string): Promise<StoredManifest | null> {
    const digest = parseDigest(reference) ? reference : await this.resolveTag(image, reference);
    if (!digest) return null;
    const d = requireDigest(digest);
    const got = await this.storage.get(revisionKey(image, d));
    if (!got) return null;
    const body = await readAll(got.stream, MAX_MANIFEST_BYTES);
    let mediaType: string | undefined;
    try {
      const mt = (JSON.parse(body.toString()) as { mediaType?: unknown }).mediaType;
      if (typeof mt === "string") mediaType = mt;
    } catch {
      /* stored manifests were validated on write */
    }
    if (!mediaType) {
      const side = await this.storage.get(revisionKey(image, d) + ".type");
      mediaType = side ? (await readAll(side.stream, 1024)).toString() : "application/vnd.oci.image.manifest.v1+json";
    }
    return { body, mediaType, digest };
  }

  async hasManifest(image: string, digest: string): Promise<boolean> {
    return this.storage.exists(revisionKey(image, requireDigest(digest)));
  }

  /**
   * Stores a manifest under its digest (and the tag, when the reference is a tag). With
   * `verifyBlobs`, every blob of an image manifest and every child of an index must exist.
   */
  async putManifest(
    image: string,
    reference: string,
    body: Buffer,
    contentType: string | undefined,
    opts: { verifyBlobs: boolean },
  ): Promise<{ digest: string; parsed: ParsedManifest }> {
    const refDigest = parseDigest(reference);
    const digest = digestOf(body, refDigest?.algorithm ?? "sha256");
    if (refDigest && digest !== reference) {
      throw ociError("DIGEST_INVALID", `Manifest digest ${digest} does not match reference ${reference}`, { expected: reference, actual: digest });
    }
    const parsed = parseManifest(body, contentType);
    if (opts.verifyBlobs) {
      for (const b of parsed.blobs) {
        if (!(await this.statBlob(b.digest))) throw ociError("MANIFEST_BLOB_UNKNOWN", `Blob ${b.digest} is unknown to this repository`, { digest: b.digest });
      }
      for (const c of parsed.manifests) {
        if (!(await this.hasManifest(image, c.digest)))
          throw ociError("MANIFEST_BLOB_UNKNOWN", `Manifest ${c.digest} is unknown to this image`, { digest: c.digest });
      }
    }
    const d = requireDigest(digest);
    if (!parsed.declaresMediaType) await this.storage.put(revisionKey(image, d) + ".type", parsed.mediaType);
    await this.storage.put(revisionKey(image, d), body, { expect: { [d.algorithm]: d.hex } });
    if (parsed.subject) {
      const subject = parseDigest(parsed.subject.digest)!;
      const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: body.length };
      const at = referrerArtifactType(parsed);
      if (at) desc.artifactType = at;
      if (parsed.annotations) desc.annotations = parsed.annotations;
      await this.storage.put(referrersPrefix(image, subject) + `${d.algorithm}-${d.hex}`, JSON.stringify(desc));
    }
    if (!refDigest) await this.storage.put(tagKey(image, reference), digest);
    return { digest, parsed };
  }

  /** Deletes a manifest by digest (with every tag pointing at it) or just a tag. Returns the tags removed, or null when absent. */
  async deleteManifest(image: string, reference: string): Promise<string[] | null> {
    const d = parseDigest(reference);
    if (!d) {
      if (!(await this.storage.exists(tagKey(image, reference)))) return null;
      await this.markKnown(image);
      return (await this.storage.delete(tagKey(image, reference))) ? [reference] : null;
    }
    const existing = await this.getManifest(image, reference);
    if (!existing) return null;
    await this.markKnown(image);
    try {
      const subject = (JSON.parse(existing.body.toString()) as { subject?: { digest?: string } }).subject?.digest;
      const sd = parseDigest(subject);
      if (sd) await this.storage.delete(referrersPrefix(image, sd) + `${d.algorithm}-${d.hex}`);
    } catch {
      /* validated on write */
    }
    const removed: string[] = [];
    for (const tag of await this.tags(image)) {
      if ((await this.resolveTag(image, tag)) === reference && (await this.storage.delete(tagKey(image, tag)))) removed.push(tag);
    }
    await this.storage.delete(revisionKey(image, d) + ".type");
    await this.storage.delete(revisionKey(image, d));
    return removed;
  }

  /** Keeps an image known after deletes empty it (written before the delete, so it is never briefly unknown). */
  private async markKnown(image: string): Promise<void> {
    if (!(await this.storage.exists(knownKey(image)))) await this.storage.put(knownKey(image), image);
  }

  async tags(image: string): Promise<string[]> {
    const prefix = `${image}/_manifests/tags/`;
    const entries = await this.storage.list(prefix);
    return filesOf(entries)
      .map((e) => e.key.slice(prefix.length))
      .filter((t) => t && !t.includes("/"));
  }

  /** The image's tags; null when the image is unknown (never had a manifest). */
  async knownTags(image: string): Promise<string[] | null> {
    const tags = await this.tags(image);
    if (tags.length === 0 && !(await this.imageExists(image))) return null;
    return tags;
  }

  /** True when the image has ever had a manifest (for NAME_UNKNOWN), including after all were deleted. */
  async imageExists(image: string): Promise<boolean> {
    const entries = await this.storage.list(`${image}/_manifests/`, { limit: 1 });
    return entries.length > 0;
  }

  async referrers(image: string, subject: string): Promise<Descriptor[]> {
    const prefix = referrersPrefix(image, requireDigest(subject));
    const out: Descriptor[] = [];
    for (const e of filesOf(await this.storage.list(prefix))) {
      const got = await this.storage.get(e.key);
      if (!got) continue;
      try {
        out.push(JSON.parse((await readAll(got.stream, 1 << 20)).toString()) as Descriptor);
      } catch {
        /* skip a damaged entry */
      }
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  /** Every image name with manifests, found by walking one directory level at a time. */
  async images(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (prefix: string, depth: number): Promise<void> => {
      if (depth > 16) return;
      const entries = await this.storage.list(prefix, { delimiter: "/" });
      for (const e of foldersOf(entries)) {
        const name = e.key.slice(prefix.length).replace(/\/$/, "");
        if (name === "_manifests") out.push(prefix.replace(/\/$/, ""));
        else if (!name.startsWith("_")) await walk(e.key.endsWith("/") ? e.key : e.key + "/", depth + 1);
      }
    };
    await walk("", 0);
    return out.filter(Boolean).sort();
  }
}
