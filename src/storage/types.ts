// The storage interface every driver (fs, s3) implements. Keys are '/'-separated
// relative paths already normalised and confined by the caller (see normaliseKey).
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { badRequest, uriTooLong } from "../errors.js";

export interface Digests {
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
}

export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

export interface PutOptions {
  /** Expected digests (hex); a mismatch aborts the write and nothing becomes visible. */
  expect?: Partial<Digests>;
  /** Refuse to overwrite an existing key (409 at the caller). */
  ifNotExists?: boolean;
}

export interface PutResult {
  size: number;
  digests: Digests;
}

export interface ListEntry {
  /** Full key of a file, or a common prefix ending in '/' when listing with a delimiter. */
  key: string;
  kind: "file" | "directory";
  size?: number;
  modified?: Date;
}

/** What `Storage.get` returns. */
export interface GetResult {
  /** The bytes (of the range, when one was asked for). For a `data` result it is built on first access. */
  stream: Readable;
  /** Size of the whole object (not of the range). */
  size: number;
  modified: Date;
  /**
   * The same bytes as `stream`, when the driver holds them in memory (small files): send them as
   * one buffer. May be shared with the driver's cache (and `stream` yields that same buffer):
   * read it, never modify it.
   */
  data?: Buffer;
}

/** A GetResult over bytes in memory; `stream` is a getter that builds the stream on first use. */
export class BufferedObject implements GetResult {
  readonly data: Buffer;
  private built: Readable | undefined;
  constructor(
    data: Buffer,
    readonly size: number,
    readonly modified: Date,
  ) {
    this.data = data;
  }
  get stream(): Readable {
    return (this.built ??= bufferStream(this.data));
  }
}

/** `whole` (the object's bytes, possibly cut short by a concurrent truncation), or the `range` of it. */
export function bufferedObject(whole: Buffer, modified: Date, range?: { start: number; end?: number }, size = whole.length): BufferedObject {
  if (!range) return new BufferedObject(whole, size, modified);
  const start = Math.max(0, range.start);
  const end = Math.min(whole.length - 1, range.end ?? whole.length - 1);
  return new BufferedObject(start > end ? whole.subarray(0, 0) : whole.subarray(start, end + 1), size, modified);
}

/** A byte-mode stream of one buffer. */
export function bufferStream(data: Buffer): Readable {
  return new Readable({
    read() {
      if (data.length) this.push(data);
      this.push(null);
    },
  });
}

export interface Storage {
  /** Streams a stored object, or null when it does not exist. `range` is inclusive, like HTTP. */
  get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null>;
  /** Streams `body` to a temp location, verifies digests, then publishes atomically. */
  put(key: string, body: Readable | Buffer | string, opts?: PutOptions): Promise<PutResult>;
  exists(key: string): Promise<boolean>;
  stat(key: string): Promise<StoredObject | null>;
  /** Lists under a prefix ('' = root). With delimiter '/', one level: files plus directory prefixes. */
  list(prefix: string, opts?: { delimiter?: "/"; limit?: number; after?: string }): Promise<ListEntry[]>;
  /** Deletes one key; returns whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Deletes every key under a prefix; returns how many were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /** Moves one key or, when `from` ends in '/', every key under that prefix. */
  move(from: string, to: string): Promise<void>;
  /**
   * Takes a local file whose size and digests the caller computed while writing it (an npm
   * publish's staged tarball) and publishes it under `key`, moving it instead of copying where
   * the driver can; the file may be gone afterwards. Absent: callers use putLocalFile's copy.
   */
  adopt?(key: string, file: string, known: PutResult, opts?: PutOptions): Promise<PutResult>;
}

/** Publishes a local file under `key`: moved by drivers that can (adopt), otherwise copied by put. */
export function putLocalFile(storage: Storage, key: string, file: string, known: PutResult, opts?: PutOptions): Promise<PutResult> {
  return storage.adopt ? storage.adopt(key, file, known, opts) : storage.put(key, createReadStream(file), opts);
}

/**
 * Splits a listing prefix (S3 semantics: a plain key prefix) into its normalised directory part
 * and the partial last segment that filters names; drivers check `rest` themselves.
 */
export function splitListPrefix(prefix: string): { dir: string; rest: string } {
  const raw = prefix.replace(/\\/g, "/");
  const slash = raw.lastIndexOf("/");
  return slash >= 0 ? { dir: normaliseKey(raw.slice(0, slash)), rest: raw.slice(slash + 1) } : { dir: "", rest: raw };
}

/** A driver's listing in key order, after `opts.after` and cut to `opts.limit`. */
export function finishListing(out: ListEntry[], opts: { limit?: number; after?: string }): ListEntry[] {
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const after = opts.after;
  const filtered = after !== undefined ? out.filter((e) => e.key > after) : out;
  return opts.limit !== undefined ? filtered.slice(0, opts.limit) : filtered;
}

/** Deletes each listed file one by one; returns how many were still there. */
export async function deleteEach(storage: Storage, entries: ListEntry[]): Promise<number> {
  let n = 0;
  for (const e of entries) if (await storage.delete(e.key)) n++;
  return n;
}

/** The normalised source and target of a directory move (`from` ends with '/'); 400 for the root. */
export function directoryMoveKeys(from: string, to: string): { src: string; dst: string } {
  const src = normaliseKey(from);
  const dst = normaliseKey(to);
  if (!src || !dst) throw badRequest("Cannot move the storage root");
  return { src, dst };
}

/** Moves every file under directory `src` to the same place under `dst`, one by one. */
export async function moveFilesUnder(storage: Storage, src: string, dst: string): Promise<void> {
  for (const e of await storage.list(src + "/")) await storage.move(e.key, dst + "/" + e.key.slice(src.length + 1));
}

/** Anything normaliseKey would change or reject: '\', NUL, a leading, trailing or doubled '/', a '.' or '..' segment. */
const NOT_NORMAL = /[\\\0]|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** Longest name of one path segment, in UTF-8 bytes: NAME_MAX of common file systems (ext4, xfs, btrfs). */
export const MAX_SEGMENT_BYTES = 255;
/** Longest key, in UTF-8 bytes: S3's key limit, well inside PATH_MAX once under a storage root. */
export const MAX_KEY_BYTES = 1024;

/** Normalises a client-supplied path into a storage key confined to its repository; 414 when no driver could store it. */
export function normaliseKey(raw: string): string {
  if (!NOT_NORMAL.test(raw)) return checkKeyLength(raw); // already normal (the hot path: keys normalised upstream)
  if (raw.includes("\0")) throw badRequest("Path must not contain NUL bytes");
  const parts: string[] = [];
  for (const seg of raw.replace(/\\/g, "/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") throw badRequest("Path must not contain '..' segments");
    parts.push(seg);
  }
  return checkKeyLength(parts.join("/"));
}

/** `key` itself, or 414 when a segment or the whole is longer than MAX_SEGMENT_BYTES / MAX_KEY_BYTES. */
function checkKeyLength(key: string): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: shorter strings need no byte count (the hot path).
  const unitsSafe = MAX_SEGMENT_BYTES / 3;
  if (key.length <= unitsSafe) return key;
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) throw uriTooLong(`Path is longer than ${MAX_KEY_BYTES} bytes`);
  for (let start = 0; start < key.length;) {
    const slash = key.indexOf("/", start);
    const end = slash < 0 ? key.length : slash;
    if (end - start > unitsSafe && Buffer.byteLength(key.slice(start, end)) > MAX_SEGMENT_BYTES) {
      throw uriTooLong(`Path segment '${key.slice(start, start + 32)}…' is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
    start = end + 1;
  }
  return key;
}

/** Reads a small stored JSON document; null when it is missing or not valid JSON. */
export async function readStoredJson<T>(storage: Storage, key: string): Promise<T | null> {
  const got = await storage.get(key);
  if (!got) return null;
  const chunks: Buffer[] = [];
  for await (const c of got.stream) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
  } catch {
    return null;
  }
}
