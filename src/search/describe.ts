// Name/version of the artifact a storage key holds, for the reindexer and the import API. Each
// format says it through its plugin's `layout.describe`; the generic fallback here knows no
// format's layout and only serves formats without one.
import type { ArtifactId, Layout } from "../formats/kit/contract.js";

const SKIP_SUFFIXES = [".md5", ".sha1", ".sha256", ".sha512", ".asc", ".lock", ".tmp", ".part"];

/**
 * `{name, version}` of the artifact at `key` by the format's layout, or the generic fallback when
 * the format has none; null for metadata, checksums and internal files.
 */
export function describeArtifact(layout: Pick<Layout, "describe"> | undefined, key: string): ArtifactId | null {
  return layout ? layout.describe(key) : describeGeneric(key);
}

/**
 * A format-agnostic guess: internal files (a segment starting with '.') and checksum, signature
 * and temporary files are no artifacts; anything else is named after its file name without
 * extension, with no version.
 */
export function describeGeneric(key: string): ArtifactId | null {
  const segs = key.split("/").filter(Boolean);
  if (!segs.length) return null;
  if (segs.some((s) => s.startsWith("."))) return null; // internal (.meta, .pantera, .upload...)
  const file = segs[segs.length - 1];
  if (SKIP_SUFFIXES.some((s) => file.endsWith(s))) return null;
  const dot = file.indexOf(".");
  return { name: dot > 0 ? file.slice(0, dot) : file, version: "" };
}
