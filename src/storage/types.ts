// The storage interface every driver (fs, s3) implements. Keys are '/'-separated
// relative paths already normalised and confined by the caller (see normaliseKey).
import type { Readable } from "node:stream";
import { badRequest } from "../errors.js";

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

export interface Storage {
  /** Streams a stored object, or null when it does not exist. `range` is inclusive, like HTTP. */
  get(key: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number; modified: Date } | null>;
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
}

/** Normalises a client-supplied path into a storage key confined to its repository. */
export function normaliseKey(raw: string): string {
  if (raw.includes("\0")) throw badRequest("Path must not contain NUL bytes");
  const parts: string[] = [];
  for (const seg of raw.replace(/\\/g, "/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") throw badRequest("Path must not contain '..' segments");
    parts.push(seg);
  }
  return parts.join("/");
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
