// maven-metadata.xml of hosted repositories, regenerated from what is stored whenever a file is
// deployed, imported or deleted. Rewrites of one directory are serialised across every node.
import type { HookTarget } from "../kit/contract.js";
import { filesOf, foldersOf } from "../kit/listing.js";
import { artifactMetadataXml, checksumOf, isMetadataFile, parseArtifactPath, snapshotMetadataXml } from "./metadata.js";
import { isSnapshot } from "./version.js";

/** What to do when storage holds nothing to derive the document from: delete it, or keep the stored one (an imported document). */
type WhenEmpty = "delete" | "keep";

function metadataLock<T>(t: HookTarget, dir: string, fn: () => Promise<T>): Promise<T> {
  return t.services.withLock(`maven\0${t.repo.name}\0${dir}`, fn);
}

const parentOf = (path: string) => path.slice(0, Math.max(0, path.lastIndexOf("/")));
const leafOf = (path: string) => path.slice(path.lastIndexOf("/") + 1);

const listDir = (t: HookTarget, dir: string) => t.storage.list(dir + "/", { delimiter: "/" });

async function hasArtifactFiles(t: HookTarget, dir: string): Promise<boolean> {
  return filesOf(await listDir(t, dir)).some((e) => !checksumOf(e.key) && !isMetadataFile(e.key));
}

/** Rewrites g/a/maven-metadata.xml from the version directories holding artifact files. */
export async function regenerateArtifactMetadata(t: HookTarget, artifactDir: string, whenEmpty: WhenEmpty = "delete"): Promise<void> {
  await metadataLock(t, artifactDir, async () => {
    const seg = artifactDir.split("/");
    const versions: string[] = [];
    for (const e of foldersOf(await listDir(t, artifactDir))) {
      const dir = e.key.replace(/\/+$/, "");
      if (await hasArtifactFiles(t, dir)) versions.push(leafOf(dir));
    }
    const key = `${artifactDir}/maven-metadata.xml`;
    if (versions.length) await t.storage.put(key, artifactMetadataXml(seg.slice(0, -1).join("."), seg[seg.length - 1], versions));
    else if (whenEmpty === "delete") await t.storage.delete(key);
  });
}

/** Rewrites g/a/1.0-SNAPSHOT/maven-metadata.xml from the timestamped files of that version. */
export async function regenerateSnapshotMetadata(t: HookTarget, versionDir: string, whenEmpty: WhenEmpty = "delete"): Promise<void> {
  await metadataLock(t, versionDir, async () => {
    const files = [];
    let coords: ReturnType<typeof parseArtifactPath> = null;
    for (const e of filesOf(await listDir(t, versionDir))) {
      if (checksumOf(e.key)) continue;
      const c = parseArtifactPath(e.key);
      if (!c?.snapshotValue) continue;
      coords = c;
      files.push({ value: c.snapshotValue, classifier: c.classifier, extension: c.extension });
    }
    const key = `${versionDir}/maven-metadata.xml`;
    const xml = coords ? snapshotMetadataXml(coords.groupId, coords.artifactId, coords.version, files) : null;
    if (xml) await t.storage.put(key, xml);
    else if (whenEmpty === "delete") await t.storage.delete(key);
  });
}

/** After a file of an artifact's version was stored or deleted: its SNAPSHOT version's metadata, then the artifact's; false when `path` is no such file. */
export async function refreshForArtifact(t: HookTarget, path: string): Promise<boolean> {
  const c = parseArtifactPath(path);
  if (!c) return false;
  if (isSnapshot(c.version)) await regenerateSnapshotMetadata(t, c.versionDir);
  await regenerateArtifactMetadata(t, c.artifactDir);
  return true;
}

/**
 * A maven-metadata.xml written by a client: the server's own document replaces it, derived from
 * the SNAPSHOT version directory or artifact directory it sits in (other levels, e.g. a group's
 * plugin list, are left alone).
 */
export async function refreshForMetadata(t: HookTarget, path: string, whenEmpty: WhenEmpty): Promise<void> {
  const dir = parentOf(path);
  if (!dir) return;
  if (isSnapshot(leafOf(dir))) await regenerateSnapshotMetadata(t, dir, whenEmpty);
  else if (foldersOf(await listDir(t, dir)).length) await regenerateArtifactMetadata(t, dir, whenEmpty);
}

/** After the management API deleted a file or a folder. */
export async function refreshAfterDelete(t: HookTarget, path: string, folder: boolean): Promise<void> {
  if (!folder && (await refreshForArtifact(t, path))) return;
  // A folder: a version directory (its parent holds maven-metadata.xml) or an artifact directory.
  const parent = parentOf(path);
  if (parent && (await t.storage.exists(`${parent}/maven-metadata.xml`))) await regenerateArtifactMetadata(t, parent);
  if (!folder && leafOf(path) !== "maven-metadata.xml" && parent && isSnapshot(leafOf(parent))) await regenerateSnapshotMetadata(t, parent);
}

/**
 * After /.import stored a file, metadata is brought up to date as a deploy does: an artifact
 * regenerates its SNAPSHOT and artifact metadata; an imported maven-metadata.xml is replaced by the
 * server's document when the artifacts it describes are stored, and kept as imported until then.
 */
export async function refreshAfterImport(t: HookTarget, path: string): Promise<void> {
  if (isMetadataFile(path)) return refreshForMetadata(t, path, "keep");
  await refreshForArtifact(t, path);
}
