// A bounded in-memory cache of small stored files for the fs driver's read path.
//
// Every read still stats the file (one libuv round trip instead of stat + open + read + close);
// an entry is served only while the file's identity — device, inode, size, mtime and ctime — is
// exactly what it was when the bytes were read. A put (a new inode renamed into place), a delete,
// a move or an out-of-band edit, on this node or on any other node sharing the storage, changes
// that identity, so nothing is ever served stale and no event has to reach this node first.
//
// Racy timestamps: a file changed less than `minAgeMs` before it was read is not cached, so an
// in-place rewrite within one coarse kernel clock tick (same size, same mtime/ctime, even a
// reused inode number) cannot leave a stale entry behind.
//
// Network file systems are left alone (see onNetworkFileSystem): their clients may answer stat()
// from an attribute cache for seconds, while open() revalidates (close-to-open consistency), so
// there a stat-validated copy could outlive another node's write. Reads there open the file as before.
import type { Stats } from "node:fs";
import { statfs } from "node:fs/promises";
import path from "node:path";

export interface FileCacheOptions {
  /** Total bytes of file content held (LRU eviction beyond it). */
  maxBytes: number;
  /** Larger files are never cached (they are streamed). */
  maxEntryBytes: number;
  /** Files whose mtime/ctime is younger than this are read but not cached. */
  minAgeMs: number;
}

export const DEFAULT_FILE_CACHE: FileCacheOptions = { maxBytes: 64 * 1024 * 1024, maxEntryBytes: 64 * 1024, minAgeMs: 1000 };

interface Entry {
  data: Buffer;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export class SmallFileCache {
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly minAgeMs: number;
  private entries = new Map<string, Entry>();
  private held = 0;
  /** Reads answered from memory. */
  hits = 0;
  /** Small files read from disk (first read, changed since, or evicted). */
  misses = 0;

  constructor(opts: Partial<FileCacheOptions> = {}) {
    const o = { ...DEFAULT_FILE_CACHE, ...opts };
    this.maxBytes = Math.max(0, o.maxBytes);
    this.maxEntryBytes = Math.max(0, Math.min(o.maxEntryBytes, this.maxBytes));
    this.minAgeMs = Math.max(0, o.minAgeMs);
  }

  /** Bytes of file content currently held. */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether an entry (possibly outdated) exists: only then is a stat worth making before the open. */
  has(file: string): boolean {
    return this.entries.has(file);
  }

  /** The cached content of `file` when `st` (a fresh stat of it) still describes the cached version. */
  get(file: string, st: Stats): Buffer | undefined {
    const e = this.entries.get(file);
    if (e === undefined) return undefined;
    if (e.ino !== st.ino || e.size !== st.size || e.mtimeMs !== st.mtimeMs || e.ctimeMs !== st.ctimeMs || e.dev !== st.dev) {
      this.drop(file, e);
      return undefined;
    }
    // Least recently used goes first: move the hit to the end of the insertion order.
    this.entries.delete(file);
    this.entries.set(file, e);
    this.hits++;
    return e.data;
  }

  /** Whether a file with this stat fits the cache (small enough, not changed too recently). */
  accepts(st: Stats, now = Date.now()): boolean {
    // Date.now() is whole milliseconds, the timestamps are fractional: a file written earlier in the
    // current millisecond has mtimeMs > now, so compare at the clock's own resolution.
    return st.size <= this.maxEntryBytes && now - Math.floor(Math.max(st.mtimeMs, st.ctimeMs)) >= this.minAgeMs;
  }

  /** Remembers `data`, read from `file` whose fstat (taken before reading) was `st`. */
  set(file: string, st: Stats, data: Buffer): void {
    if (data.length !== st.size || !this.accepts(st)) return;
    const old = this.entries.get(file);
    if (old) this.drop(file, old);
    this.entries.set(file, { data, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    this.held += data.length;
    if (this.held > this.maxBytes) {
      for (const [k, e] of this.entries) {
        if (this.held <= this.maxBytes) break;
        this.drop(k, e);
      }
    }
  }

  /** Forgets `file` (this node wrote or removed it; the stat check would catch it anyway). */
  delete(file: string): void {
    const e = this.entries.get(file);
    if (e) this.drop(file, e);
  }

  /** Forgets every file under a directory (absolute path, no trailing separator). */
  deleteUnder(dir: string, sep: string): void {
    const prefix = dir + sep;
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) this.drop(k, e);
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  private drop(file: string, e: Entry): void {
    this.entries.delete(file);
    this.held -= e.data.length;
  }
}

/** The cache of fs storages built outside a StorageService (each StorageService, i.e. each node, has its own). */
export const sharedFileCache = new SmallFileCache();

/** statfs f_type magic numbers of network and cluster file systems (linux/magic.h and friends). */
const NETWORK_FS_TYPES = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xfe534d42, // SMB2
  0xff534d42, // CIFS
  0x00c36400, // Ceph
  0x65735546, // FUSE (sshfs, s3fs, GlusterFS, ...)
  0x5346414f, // AFS
  0x01021997, // 9P
  0x0bd00bd0, // Lustre
  0x01161970, // GFS2
  0x7461636f, // OCFS2
  0x73757245, // Coda
  0x564c, // NCP
]);

export function isNetworkFileSystemType(type: number | bigint): boolean {
  return NETWORK_FS_TYPES.has(Number(type));
}

/** Whether `dir` (or, while it does not exist yet, its nearest existing parent) is on a network file system. */
export async function onNetworkFileSystem(dir: string): Promise<boolean> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      return isNetworkFileSystemType((await statfs(current)).type);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return false;
      current = parent;
    }
  }
}
