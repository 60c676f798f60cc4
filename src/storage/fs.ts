// File-system storage driver. Writes stream into a temp file under `<root>/.pantera-tmp`
// (same file system, so rename is atomic) while digests are computed; only a verified
// file is renamed (or hard-linked, for ifNotExists) into place.
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { badRequest, conflict } from "../errors.js";
import { DigestStream, toReadable, verifyDigests } from "./digest.js";
import { normaliseKey, type ListEntry, type PutOptions, type PutResult, type Storage, type StoredObject } from "./types.js";

export const TMP_DIR = ".pantera-tmp";

const isNotFound = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
};

export class FsStorage implements Storage {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private file(key: string): string {
    const k = normaliseKey(key);
    if (!k) throw badRequest("Storage key must not be empty");
    return path.join(this.root, ...k.split("/"));
  }

  async get(key: string, range?: { start: number; end?: number }) {
    const file = this.file(key);
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    if (!st.isFile()) return null;
    const size = st.size;
    if (range) {
      const start = Math.max(0, range.start);
      const end = Math.min(size - 1, range.end ?? size - 1);
      const stream = start > end ? Readable.from([]) : createReadStream(file, { start, end });
      return { stream, size, modified: st.mtime };
    }
    return { stream: createReadStream(file), size, modified: st.mtime };
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    const dest = this.file(key);
    const tmpDir = path.join(this.root, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const digest = new DigestStream();
    try {
      await pipeline(toReadable(body), digest, createWriteStream(tmp, { flags: "wx" }));
      const digests = digest.digests();
      verifyDigests(digests, opts.expect);
      await mkdir(path.dirname(dest), { recursive: true });
      if (opts.ifNotExists) {
        try {
          await link(tmp, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST") throw conflict(`'${normaliseKey(key)}' already exists`);
          throw err;
        }
        await unlink(tmp).catch(() => {});
      } else {
        const existing = await stat(dest).catch(() => null);
        if (existing?.isDirectory()) throw conflict(`'${normaliseKey(key)}' is a directory`);
        await rename(tmp, dest);
      }
      return { size: digest.size, digests };
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const st = await stat(this.file(key));
      if (!st.isFile()) return null;
      return { key: normaliseKey(key), size: st.size, modified: st.mtime };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list(prefix: string, opts: { delimiter?: "/"; limit?: number; after?: string } = {}): Promise<ListEntry[]> {
    // S3 semantics: `prefix` is a plain key prefix; the directory part is read, the rest filters names.
    const raw = prefix.replace(/\\/g, "/");
    const slash = raw.lastIndexOf("/");
    const dirKey = slash >= 0 ? normaliseKey(raw.slice(0, slash)) : "";
    const namePrefix = slash >= 0 ? raw.slice(slash + 1) : raw;
    if (namePrefix.includes("\0")) throw badRequest("Path must not contain NUL bytes");
    if (namePrefix === "..") throw badRequest("Path must not contain '..' segments");
    const base = dirKey ? dirKey + "/" : "";
    const out: ListEntry[] = [];
    const dir = dirKey ? path.join(this.root, ...dirKey.split("/")) : this.root;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    for (const e of entries) {
      if (!e.name.startsWith(namePrefix)) continue;
      if (!dirKey && e.name === TMP_DIR) continue;
      const key = base + e.name;
      if (e.isDirectory()) {
        if (opts.delimiter) out.push({ key: key + "/", kind: "directory" });
        else await this.walk(key, out);
      } else if (e.isFile()) {
        const st = await stat(path.join(dir, e.name)).catch(() => null);
        if (st) out.push({ key, kind: "file", size: st.size, modified: st.mtime });
      }
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const after = opts.after;
    const filtered = after !== undefined ? out.filter((e) => e.key > after) : out;
    return opts.limit !== undefined ? filtered.slice(0, opts.limit) : filtered;
  }

  private async walk(dirKey: string, out: ListEntry[]): Promise<void> {
    const dir = path.join(this.root, ...dirKey.split("/"));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const e of entries) {
      const key = dirKey + "/" + e.name;
      if (e.isDirectory()) await this.walk(key, out);
      else if (e.isFile()) {
        const st = await stat(path.join(dir, e.name)).catch(() => null);
        if (st) out.push({ key, kind: "file", size: st.size, modified: st.mtime });
      }
    }
  }

  async delete(key: string): Promise<boolean> {
    const file = this.file(key);
    try {
      const st = await stat(file);
      if (!st.isFile()) return false;
      await unlink(file);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    await this.pruneEmptyDirs(path.dirname(file));
    return true;
  }

  /** Removes now-empty parent directories up to (not including) the root. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.root + path.sep) && dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const entries = await this.list(prefix);
    const k = normaliseKey(prefix);
    if (prefix.endsWith("/") || k === "") {
      // A whole directory: remove it in one go once counted.
      const dir = k ? path.join(this.root, ...k.split("/")) : this.root;
      if (k) {
        await rm(dir, { recursive: true, force: true });
        await this.pruneEmptyDirs(path.dirname(dir));
      } else {
        for (const e of await readdir(this.root).catch(() => [] as string[])) {
          if (e !== TMP_DIR) await rm(path.join(this.root, e), { recursive: true, force: true });
        }
      }
      return entries.length;
    }
    let n = 0;
    for (const e of entries) if (await this.delete(e.key)) n++;
    return n;
  }

  async move(from: string, to: string): Promise<void> {
    if (from.endsWith("/")) {
      const src = normaliseKey(from);
      const dst = normaliseKey(to);
      if (!src || !dst) throw badRequest("Cannot move the storage root");
      const srcDir = path.join(this.root, ...src.split("/"));
      const dstDir = path.join(this.root, ...dst.split("/"));
      const st = await stat(srcDir).catch(() => null);
      if (!st?.isDirectory()) return;
      await mkdir(path.dirname(dstDir), { recursive: true });
      try {
        await rename(srcDir, dstDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
        // Target exists: merge file by file.
        for (const e of await this.list(src + "/")) await this.move(e.key, dst + "/" + e.key.slice(src.length + 1));
        await rm(srcDir, { recursive: true, force: true });
      }
      await this.pruneEmptyDirs(path.dirname(srcDir));
      return;
    }
    const src = this.file(from);
    const dst = this.file(to);
    await mkdir(path.dirname(dst), { recursive: true });
    try {
      await rename(src, dst);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await this.pruneEmptyDirs(path.dirname(src));
  }
}
