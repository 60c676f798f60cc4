// Staging files a killed process left behind (fs upload temp files, npm publish staging): swept
// when a staging directory is first used and then periodically. A live upload writes its file as
// bytes arrive, so its mtime stays fresh; files this process is still writing are never swept,
// however idle their upload (another node sharing the directory only has the age to go by).
import { readdir, stat, unlink } from "node:fs/promises";
import path from "node:path";

/** Files untouched for this long are left-overs: no live upload pauses this long between writes. */
export const STALE_AFTER_MS = 3600_000;
const SWEEP_EVERY_MS = 10 * 60_000;

const writing = new Set<string>();
/** Directories swept periodically, each with the test of which of its names are staging files. */
const swept = new Map<string, (name: string) => boolean>();
let timer: NodeJS.Timeout | undefined;

/** Marks `file` as being written by this process (never swept) until the returned function or stagingDone is called. */
export function stagingFile(file: string): () => void {
  writing.add(file);
  return () => writing.delete(file);
}

/** `file` is published or removed: a later sweep may take it (were it somehow still there). */
export function stagingDone(file: string): void {
  writing.delete(file);
}

/** Removes the files of `dir` whose name passes `isStaging` and whose mtime is older than `maxAgeMs`; returns how many. */
export async function sweepStaleFiles(dir: string, isStaging: (name: string) => boolean = () => true, maxAgeMs = STALE_AFTER_MS): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0; // not created yet, or gone
  }
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    if (!isStaging(name) || writing.has(file)) continue;
    const st = await stat(file).catch(() => null);
    if (!st?.isFile() || st.mtimeMs >= cutoff) continue;
    if (
      await unlink(file).then(
        () => true,
        () => false,
      )
    )
      removed++;
  }
  return removed;
}

/** Sweeps `dir` now and every SWEEP_EVERY_MS from now on (an unref'd timer: it never keeps the process up). */
export function keepSwept(dir: string, isStaging: (name: string) => boolean = () => true): Promise<number> {
  const first = !swept.has(dir);
  swept.set(dir, isStaging);
  timer ??= setInterval(() => {
    for (const [d, test] of swept) void sweepStaleFiles(d, test);
  }, SWEEP_EVERY_MS).unref();
  return first ? sweepStaleFiles(dir, isStaging) : Promise.resolve(0);
}
