// Content digests: parsing, validation and streaming verification.
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ociError } from "./errors.js";

export type DigestAlgorithm = "sha256" | "sha512";
export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Parses `algorithm:hex`; null when malformed or the algorithm is not supported. */
export function parseDigest(value: string | undefined | null): Digest | null {
  if (!value) return null;
  const m = DIGEST_RE.exec(value);
  if (!m) return null;
  const algorithm = m[1] as DigestAlgorithm;
  if (!(algorithm in HEX_LENGTH)) return null;
  const hex = m[2];
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) return null;
  return { algorithm, hex };
}

/** Like parseDigest but throws DIGEST_INVALID (400). */
export function requireDigest(value: string | undefined | null): Digest {
  const d = parseDigest(value);
  if (!d) throw ociError("DIGEST_INVALID", `Invalid or unsupported digest '${value ?? ""}'`, { digest: value ?? null });
  return d;
}

export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Pass-through stream that counts bytes and hashes them; read `.digest()` after end. */
export class DigestingStream extends Transform {
  private hash: Hash;
  bytes = 0;
  constructor(readonly algorithm: DigestAlgorithm = "sha256") {
    super();
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  private value?: string;
  digest(): string {
    this.value ??= `${this.algorithm}:${this.hash.digest("hex")}`;
    return this.value;
  }
}
