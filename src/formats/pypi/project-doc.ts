// The project documents a pypi repository keeps, one per project, and where its files live.
//
// Storage layout:   packages/<norm>/<version>/<file>   distribution files
//                   .pantera-pypi/<norm>.json          {name, files}: hosted, the uploaded files
//                                                      (url = their storage key, hashes,
//                                                      requires-python, upload-time, size);
//                                                      proxy, the parsed upstream page (url = the
//                                                      upstream file URL), re-fetched after the TTL
import type { Storage } from "../../storage/types.js";
import { readStoredJson } from "../../storage/types.js";
import type { PyFile } from "./simple.js";

export const META_DIR = ".pantera-pypi";

export interface ProjectDoc {
  name: string;
  files: PyFile[];
}

export const metaKey = (norm: string) => `${META_DIR}/${norm}.json`;

export const fileKey = (norm: string, version: string | null | undefined, filename: string) => `packages/${norm}/${version || "-"}/${filename}`;

/** The project a metadata key is the document of, or null for any other key. */
export function projectOfMetaKey(key: string): string | null {
  const m = /^\.pantera-pypi\/([^/]+)\.json$/.exec(key);
  return m ? m[1] : null;
}

/** A stored project document, or null when it is missing or not one. */
export function parseDoc(bytes: Buffer | null): ProjectDoc | null {
  if (!bytes) return null;
  try {
    const doc = JSON.parse(bytes.toString("utf8")) as ProjectDoc;
    return Array.isArray(doc?.files) ? doc : null;
  } catch {
    return null;
  }
}

export async function readDoc(storage: Storage, key: string): Promise<ProjectDoc | null> {
  const doc = await readStoredJson<ProjectDoc>(storage, key);
  return Array.isArray(doc?.files) ? doc : null;
}

export const encodeDoc = (doc: ProjectDoc) => JSON.stringify(doc);

/**
 * The path below the repository root a listed file is served at: an uploaded file's storage key,
 * or, for a file listed with its upstream URL, the key a proxy caches it under.
 */
export function servedKey(norm: string, f: PyFile): string {
  return /^https?:\/\//i.test(f.url) ? fileKey(norm, f.version, f.filename) : f.url;
}
