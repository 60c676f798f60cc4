// Checksum files (foo.jar.sha1, .md5, .sha256, .sha512): the server serves digests it computed
// itself, remembered per node; an uploaded checksum file is only a claim about the stored file,
// checked against it and then dropped (see deployChecksum in deploy.ts).
import { createHash } from "node:crypto";
import { DigestStream } from "../../storage/digest.js";
import type { FileHit, FormatServices } from "../kit/contract.js";
import { isMetadataFile, type ChecksumAlg } from "./metadata.js";

export const CHECKSUM_HEX_LENGTH: Record<ChecksumAlg, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/**
 * The hex digest in a checksum file body, lower-cased, or null when the body is not a checksum of
 * that algorithm. Accepted forms: `<hex>`, `<hex>  <filename>` / `<hex> *<filename>` (sha1sum and
 * friends), and the BSD/openssl `SHA1(<filename>)= <hex>`; surrounding whitespace is ignored.
 */
export function parseChecksumBody(body: string, alg: ChecksumAlg): string | null {
  const text = body.replace(/^\uFEFF/, "").trim();
  if (!text) return null;
  const want = CHECKSUM_HEX_LENGTH[alg];
  const first = text.split(/\s+/, 1)[0];
  const candidate = /^[0-9a-f]+$/i.test(first) ? first : /=\s*([0-9a-f]+)$/i.exec(text)?.[1];
  if (!candidate || candidate.length !== want) return null;
  return candidate.toLowerCase();
}

const MAX_REMEMBERED = 50_000;

/**
 * Digests of stored files, one cache per node (owned by the plugin object): from bytes made for
 * the read (merged or filtered metadata), the artifacts index, or by reading the file once.
 * Remembered per (repository, key, size, mtime), so a rewritten file gets new digests.
 */
export class ChecksumCache {
  private readonly known = new Map<string, string>();

  async of(services: FormatServices, hit: FileHit, alg: ChecksumAlg): Promise<string | null> {
    if (hit.bytes) return createHash(alg).update(hit.bytes).digest("hex");
    const id = `${hit.repo.name}\0${hit.key}\0${hit.stat.size}\0${hit.stat.modified.getTime()}\0${alg}`;
    const known = this.known.get(id);
    if (known) return known;
    if (!isMetadataFile(hit.key)) {
      const row = await services.artifacts.find(hit.repo.name, hit.key).catch(() => null);
      const sums = (row?.checksums ?? {}) as Record<string, unknown>;
      const indexed = sums[alg];
      if (row && Number(row.size) === hit.stat.size && typeof indexed === "string" && indexed) return this.remember(id, indexed);
    }
    const obj = await hit.storage.get(hit.key);
    if (!obj) return null;
    const d = new DigestStream();
    obj.stream.pipe(d);
    for await (const _ of d); // drain
    return this.remember(id, d.digests()[alg]);
  }

  private remember(id: string, value: string): string {
    if (this.known.size > MAX_REMEMBERED) this.known.clear(); // bounded
    this.known.set(id, value);
    return value;
  }
}
