// File-system storage driver. Writes stream into a temp file under `<root>/.pantera-tmp`
// (same file system, so rename is atomic) while digests are computed; only a verified
// file is renamed (or hard-linked, for ifNotExists) into place. Temp names are UUIDs (36 bytes),
// so no accepted key (segments up to NAME_MAX, see normaliseKey) is ever lengthened past it;
// temp files a crash left behind are swept (stale-files.ts).
import { randomUUID } from "node:crypto";
import { close as closeFd, createReadStream, createWriteStream, fstat as fstatFd, open as openFile, read as readFd, statSync, type Stats } from "node:fs";
import { link, mkdir, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { badRequest, conflict, uriTooLong } from "../errors.js";
import { DigestStream, toReadable, verifyDigests } from "./digest.js";
import { keepSwept, stagingFile } from "./stale-files.js";
import type { StorageDriver } from "./driver.js";
import { onNetworkFileSystem, sharedFileCache, type SmallFileCache } from "./file-cache.js";
import {
  BufferedObject,
  bufferedObject,
  deleteEach,
  directoryMoveKeys,
  finishListing,
  moveFilesUnder,
  normaliseKey,
  splitListPrefix,
  type GetResult,
  type ListEntry,
  type PutOptions,
  type PutResult,
  type Storage,
  type StoredObject,
} from "./types.js";

export const TMP_DIR = ".pantera-tmp";

const isNotFound = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
};

/** A name the file system cannot hold (a smaller NAME_MAX than normaliseKey allows, a deep root) as a 414, not a 500. */
const nameError = (err: unknown) =>
  (err as NodeJS.ErrnoException)?.code === "ENAMETOOLONG" ? uriTooLong("Path is too long for this storage's file system") : err;

/**
 * Read-stream chunks: transfers up to MEDIUM_MAX in chunks of up to 1 MiB (a 1 MiB file in one
 * read and one socket write), larger ones in 256 KiB chunks (memory per download stays small);
 * both far fewer read calls and socket writes than the 64 KiB default.
 */
const MEDIUM_MAX = 4 * 1024 * 1024;
const MEDIUM_CHUNK = 1024 * 1024;
const LARGE_CHUNK = 256 * 1024;

/**
 * The cache check stats synchronously: on a local disk, with the inode in the kernel's cache
 * (it was read recently: it is cached), that takes a few microseconds, far less than a
 * thread-pool round trip (futex hand-offs, an event-loop wake-up). The storage watches how long
 * its sync stats take (moving average, each sample capped so a preempted call barely counts);
 * when the average exceeds SYNC_STAT_BUDGET_MS (a network file system, a struggling disk) it
 * stats asynchronously for SLOW_STAT_BACKOFF_MS before trying again.
 */
const SYNC_STAT_BUDGET_MS = 0.25;
const SYNC_STAT_SAMPLE_CAP_MS = 2;
const SYNC_STAT_WEIGHT = 1 / 32;
const SLOW_STAT_BACKOFF_MS = 30_000;

// Callback fs calls wrapped by hand: no FileHandle objects on the hot read path.
const fsOpen = (file: string) => new Promise<number>((resolve, reject) => openFile(file, "r", (err, fd) => (err ? reject(err) : resolve(fd))));
const fsFstat = (fd: number) => new Promise<Stats>((resolve, reject) => fstatFd(fd, (err, st) => (err ? reject(err) : resolve(st))));
const fsRead = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => readFd(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** Fills `buf` from `position`; returns the bytes read (fewer at end of file: truncated meanwhile). */
async function readFully(fd: number, buf: Buffer, position: number): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const got = await fsRead(fd, buf, n, buf.length - n, position + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}

export class FsStorage implements Storage {
  readonly root: string;
  /** Small-file cache (stat-validated, see file-cache.ts); null: every read goes to the disk. */
  private fileCache: SmallFileCache | null = null;
  /** Pending check that the root is not on a network file system; the cache is used once it passed. */
  private probe: Promise<void> | null;

  /** performance.now() until which cache checks stat asynchronously (sync stats were slow). */
  private asyncStatsUntil = 0;
  /** Moving average of sync stat durations (ms). */
  private syncStatMs = 0;
  private readonly rootPrefix: string;
  /** The sweep of stale temp files started with this driver (kept for tests to await). */
  readonly tempSweep: Promise<number>;

  /** `cache`: the node's small-file cache (default: a process-wide one); never used on a network file system. */
  constructor(root: string, opts: { cache?: SmallFileCache | null } = {}) {
    this.root = path.resolve(root);
    this.rootPrefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    const cache = opts.cache === undefined ? sharedFileCache : opts.cache;
    this.probe = cache
      ? onNetworkFileSystem(this.root).then((network) => {
          this.fileCache = network ? null : cache;
          this.probe = null;
        })
      : null;
    this.tempSweep = keepSwept(path.join(this.root, TMP_DIR));
  }

  /** The small-file cache in use (null: none, or the root is on a network file system). */
  get cache(): SmallFileCache | null {
    return this.fileCache;
  }

  private file(key: string): string {
    const k = normaliseKey(key);
    if (!k) throw badRequest("Storage key must not be empty");
    // A normalised key has no empty, '.' or '..' segments: joining needs no further normalisation.
    return this.rootPrefix + (path.sep === "/" ? k : k.split("/").join(path.sep));
  }

  /** stat() for the cache check: synchronous while this storage answers fast (see SYNC_STAT_BUDGET_MS). */
  private cacheStat(file: string): Stats | Promise<Stats> {
    const start = performance.now();
    if (start < this.asyncStatsUntil) return stat(file);
    try {
      return statSync(file);
    } finally {
      const end = performance.now();
      this.syncStatMs += (Math.min(end - start, SYNC_STAT_SAMPLE_CAP_MS) - this.syncStatMs) * SYNC_STAT_WEIGHT;
      if (this.syncStatMs > SYNC_STAT_BUDGET_MS) {
        this.asyncStatsUntil = end + SLOW_STAT_BACKOFF_MS;
        this.syncStatMs = 0;
      }
    }
  }

  /**
   * Small files (up to the cache's entry limit) come back whole in `data`, read with one open,
   * fstat, read and close, and are then served from the node's file cache while a stat shows the
   * same file. Larger ones are streamed from the descriptor that was fstat'ed (size and bytes agree).
   */
  async get(key: string, range?: { start: number; end?: number }): Promise<GetResult | null> {
    const file = this.file(key);
    if (this.probe) await this.probe;
    const cache = this.fileCache;
    if (cache && cache.has(file)) {
      let st: Stats;
      try {
        const pending = this.cacheStat(file);
        st = pending instanceof Promise ? await pending : pending;
      } catch (err) {
        if (isNotFound(err)) {
          cache.delete(file);
          return null;
        }
        throw nameError(err);
      }
      if (!st.isFile()) return null;
      const data = cache.get(file, st);
      if (data) return bufferedObject(data, st.mtime, range);
    }
    let fd: number;
    try {
      fd = await fsOpen(file);
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === "EISDIR") return null;
      throw nameError(err);
    }
    let streaming = false;
    try {
      const st = await fsFstat(fd);
      if (!st.isFile()) return null;
      const size = st.size;
      if (cache && size <= cache.maxEntryBytes) {
        cache.misses++;
        const buf = Buffer.allocUnsafeSlow(size); // not from the shared pool: it may live in the cache
        const n = await readFully(fd, buf, 0);
        // Shorter than fstat said: truncated while reading; serve what is there, remember nothing.
        if (n === size) cache.set(file, st, buf);
        return bufferedObject(n === size ? buf : buf.subarray(0, n), st.mtime, range, size);
      }
      const start = range ? Math.max(0, range.start) : 0;
      const end = range ? Math.min(size - 1, range.end ?? size - 1) : size - 1;
      if (start > end) return new BufferedObject(Buffer.alloc(0), size, st.mtime);
      const length = end - start + 1;
      const highWaterMark = length <= MEDIUM_MAX ? Math.min(length, MEDIUM_CHUNK) : LARGE_CHUNK;
      streaming = true;
      return { stream: createReadStream(file, { fd, start, end, highWaterMark }), size, modified: st.mtime };
    } finally {
      if (!streaming) closeFd(fd, () => {});
    }
  }

  async put(key: string, body: Readable | Buffer | string, opts: PutOptions = {}): Promise<PutResult> {
    const dest = this.file(key); // a bad key is refused before the body is read
    const tmpDir = path.join(this.root, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const written = stagingFile(tmp);
    const digest = new DigestStream();
    try {
      await pipeline(toReadable(body), digest, createWriteStream(tmp, { flags: "wx" }));
      const digests = digest.digests();
      verifyDigests(digests, opts.expect);
      await this.place(tmp, dest, key, opts.ifNotExists);
      return { size: digest.size, digests };
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw nameError(err);
    } finally {
      written();
    }
  }

  /** A rename into place when the file is on this storage's file system; a copy (put) otherwise. */
  async adopt(key: string, file: string, known: PutResult, opts: PutOptions = {}): Promise<PutResult> {
    verifyDigests(known.digests, opts.expect);
    try {
      await this.place(file, this.file(key), key, opts.ifNotExists);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw nameError(err);
      return this.put(key, createReadStream(file), opts);
    }
    return { size: known.size, digests: known.digests };
  }

  /**
   * Publishes the finished file `src` (same file system) at `dest`, the path of `key`: renamed
   * over whatever is there, or, for ifNotExists, hard-linked so an existing key is never replaced (409).
   */
  private async place(src: string, dest: string, key: string, ifNotExists: boolean | undefined): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true });
    if (ifNotExists) {
      try {
        await link(src, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") throw conflict(`'${normaliseKey(key)}' already exists`);
        throw err;
      }
      await unlink(src).catch(() => {});
    } else {
      const existing = await stat(dest).catch(() => null);
      if (existing?.isDirectory()) throw conflict(`'${normaliseKey(key)}' is a directory`);
      await rename(src, dest);
    }
    this.cache?.delete(dest);
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
      throw nameError(err);
    }
  }

  async list(prefix: string, opts: { delimiter?: "/"; limit?: number; after?: string } = {}): Promise<ListEntry[]> {
    // S3 semantics: `prefix` is a plain key prefix; the directory part is read, the rest filters names.
    const { dir: dirKey, rest: namePrefix } = splitListPrefix(prefix);
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
      throw nameError(err);
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
    return finishListing(out, opts);
  }

  private async walk(dirKey: string, out: ListEntry[]): Promise<void> {
    const dir = path.join(this.root, ...dirKey.split("/"));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw nameError(err);
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
      this.cache?.delete(file);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw nameError(err);
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
        this.cache?.deleteUnder(dir, path.sep);
        await this.pruneEmptyDirs(path.dirname(dir));
      } else {
        for (const e of await readdir(this.root).catch(() => [] as string[])) {
          if (e !== TMP_DIR) await rm(path.join(this.root, e), { recursive: true, force: true });
        }
        this.cache?.deleteUnder(this.root, path.sep);
      }
      return entries.length;
    }
    return deleteEach(this, entries);
  }

  async move(from: string, to: string): Promise<void> {
    if (from.endsWith("/")) {
      const { src, dst } = directoryMoveKeys(from, to);
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
        await moveFilesUnder(this, src, dst);
        await rm(srcDir, { recursive: true, force: true });
      }
      this.cache?.deleteUnder(srcDir, path.sep);
      this.cache?.deleteUnder(dstDir, path.sep);
      await this.pruneEmptyDirs(path.dirname(srcDir));
      return;
    }
    const src = this.file(from);
    const dst = this.file(to);
    try {
      await mkdir(path.dirname(dst), { recursive: true });
      await rename(src, dst);
    } catch (err) {
      if (isNotFound(err)) return;
      throw nameError(err);
    }
    this.cache?.delete(src);
    this.cache?.delete(dst);
    await this.pruneEmptyDirs(path.dirname(src));
  }
}

export interface FsConfig {
  /** Absolute root directory. */
  path: string;
}

/** `{ "type": "fs", "path": ... }`; a relative path is resolved against the node's data directory (and stored absolute). */
export const fsDriver: StorageDriver<FsConfig> = {
  type: "fs",
  parseConfig(raw, ctx) {
    if (typeof raw.path !== "string" || !raw.path.trim()) throw badRequest("An fs storage needs a 'path'");
    if (raw.path.includes("\0")) throw badRequest("'path' must not contain NUL bytes");
    return { path: path.resolve(ctx.dataDir, raw.path) };
  },
  storedConfig: (raw, config) => ({ ...raw, path: config.path }),
  create: (config, env) => new FsStorage(config.path, { cache: env.fileCache }),
};
