// Checksum files uploaded next to deployed files (foo.jar.sha1, .md5, .sha256, .sha512).
// The server always serves digests it computed itself; an uploaded checksum file is only a claim
// about the stored file, checked against it and then dropped (see deployChecksum in index.ts).
import type { ChecksumAlg } from "./metadata.js";

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
