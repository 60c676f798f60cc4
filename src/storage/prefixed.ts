// A view of a storage below a key prefix (a repository's root inside its alias).
import type { Readable } from "node:stream";
import { normaliseKey, putLocalFile, splitListPrefix, type ListEntry, type PutOptions, type PutResult, type Storage, type StoredObject } from "./types.js";

export class PrefixedStorage implements Storage {
  /** `prefix` ends with '/'. */
  constructor(
    readonly inner: Storage,
    readonly prefix: string,
  ) {}

  private k(key: string): string {
    return this.prefix + normaliseKey(key);
  }

  /** Keeps a trailing '/' (directory prefixes) after normalising. */
  private p(prefix: string): string {
    const n = normaliseKey(prefix);
    return this.prefix + n + (n && prefix.endsWith("/") ? "/" : "");
  }

  private strip<T extends { key: string }>(e: T): T {
    return { ...e, key: e.key.slice(this.prefix.length) };
  }

  get(key: string, range?: { start: number; end?: number }) {
    return this.inner.get(this.k(key), range);
  }
  put(key: string, body: Readable | Buffer | string, opts?: PutOptions): Promise<PutResult> {
    return this.inner.put(this.k(key), body, opts);
  }
  adopt(key: string, file: string, known: PutResult, opts?: PutOptions): Promise<PutResult> {
    return putLocalFile(this.inner, this.k(key), file, known, opts);
  }
  exists(key: string): Promise<boolean> {
    return this.inner.exists(this.k(key));
  }
  async stat(key: string): Promise<StoredObject | null> {
    const s = await this.inner.stat(this.k(key));
    return s ? this.strip(s) : null;
  }
  async list(prefix: string, opts?: { delimiter?: "/"; limit?: number; after?: string }): Promise<ListEntry[]> {
    // Keep a partial last segment (S3 prefix semantics) while normalising the directory part.
    const { dir, rest } = splitListPrefix(prefix);
    const full = this.prefix + (dir ? dir + "/" : "") + rest;
    const entries = await this.inner.list(full, { ...opts, after: opts?.after !== undefined ? this.prefix + opts.after : undefined });
    return entries.map((e) => this.strip(e));
  }
  delete(key: string): Promise<boolean> {
    return this.inner.delete(this.k(key));
  }
  deletePrefix(prefix: string): Promise<number> {
    return this.inner.deletePrefix(this.p(prefix) || this.prefix);
  }
  move(from: string, to: string): Promise<void> {
    if (from.endsWith("/")) return this.inner.move(this.p(from), this.p(to.endsWith("/") ? to : to + "/"));
    return this.inner.move(this.k(from), this.k(to));
  }
}
