// Cooldown on a pypi proxy's project pages: the PEP 700 `upload-time` of a version's files is its
// release date, and the files of versions younger than the minimum age leave the page.
import type { FormatRequest } from "../kit/contract.js";
import { encodeDoc, parseDoc, projectOfMetaKey } from "./project-doc.js";
import { parseFilename, type PyFile } from "./simple.js";

const parseDate = (t: unknown): Date | null => (typeof t === "string" && !Number.isNaN(Date.parse(t)) ? new Date(t) : null);

const versionOf = (f: PyFile) => f.version ?? parseFilename(f.filename)?.version;

/** The project's files without those of blocked versions (blocks are recorded by the gate). */
export async function cooldownPyFiles(req: Pick<FormatRequest, "repo" | "services">, project: string, files: PyFile[]): Promise<PyFile[]> {
  if (!files.length) return files;
  // A version's release date is its earliest file upload.
  const first = new Map<string, Date | null>();
  for (const f of files) {
    const v = versionOf(f);
    if (!v) continue;
    const t = parseDate(f.uploadTime);
    const prev = first.get(v);
    if (prev === undefined || (t && (!prev || t < prev))) first.set(v, t ?? prev ?? null);
  }
  const { blocked } = await req.services.cooldown.filterVersions(
    req.repo,
    project,
    [...first].map(([version, releasedAt]) => ({ version, releasedAt })),
  );
  if (!blocked.size) return files;
  return files.filter((f) => !blocked.has(versionOf(f) ?? ""));
}

/** The kit's cooldown hook for a proxy's project document: the filtered document, or null when nothing is hidden. */
export async function filterProjectDoc(key: string, bytes: Buffer, req: FormatRequest): Promise<Buffer | null> {
  const norm = projectOfMetaKey(key);
  const doc = parseDoc(bytes);
  if (!norm || !doc) return null;
  const files = await cooldownPyFiles(req, norm, doc.files);
  return files.length === doc.files.length ? null : Buffer.from(encodeDoc({ ...doc, files }));
}

/** The release date of an upstream file, when its page gives one (PEP 700). */
export const releasedAt = (f: PyFile): Date | null => parseDate(f.uploadTime);
