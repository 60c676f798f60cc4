// Name/version extraction from storage keys for the reindexer. Formats may describe their own
// layouts (FormatModule.describeArtifact); this is the generic fallback for everything else.

const SKIP_SUFFIXES = [".md5", ".sha1", ".sha256", ".sha512", ".asc", ".lock", ".tmp", ".part"];
const SKIP_NAMES = new Set(["maven-metadata.xml", "index.html", "index.json", "index.yaml", "packages.json", "Packages", "Release", "repomd.xml"]);

/** `{name, version}` for an artifact file, or null for metadata, checksums and internal files. */
export function describeGeneric(key: string): { name: string; version: string } | null {
  const segs = key.split("/").filter(Boolean);
  if (!segs.length) return null;
  if (segs.some((s) => s.startsWith("."))) return null; // internal (.meta, .pantera, .upload...)
  const file = segs[segs.length - 1];
  if (SKIP_NAMES.has(file) || file.startsWith("maven-metadata.xml")) return null;
  if (SKIP_SUFFIXES.some((s) => file.endsWith(s))) return null;
  // npm tarballs: <pkg>/-/<base>-<version>.tgz, <pkg> possibly @scope/name.
  const dash = segs.indexOf("-");
  if (dash > 0 && dash === segs.length - 2 && file.endsWith(".tgz")) {
    const name = segs.slice(0, dash).join("/");
    const base = name.split("/").pop()!;
    const stem = file.slice(0, -".tgz".length);
    const version = stem.startsWith(base + "-") ? stem.slice(base.length + 1) : "";
    return { name, version };
  }
  // Maven-like and PyPI-like layouts: .../<name>/<version>/<file>
  if (segs.length >= 3 && /^\d/.test(segs[segs.length - 2])) {
    return { name: segs[segs.length - 3], version: segs[segs.length - 2] };
  }
  const dot = file.indexOf(".");
  return { name: dot > 0 ? file.slice(0, dot) : file, version: "" };
}
