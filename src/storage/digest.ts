// Digest computation while streaming, and verification against expected digests.
import { createHash, type Hash } from "node:crypto";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { badRequest } from "../errors.js";
import { bufferStream, type Digests, type PutOptions } from "./types.js";

export const DIGEST_ALGORITHMS = ["md5", "sha1", "sha256", "sha512"] as const;

/** The four digests (hex) and the size of bytes fed in pieces. */
export class Digester {
  private hashes: Record<keyof Digests, Hash> = {
    md5: createHash("md5"),
    sha1: createHash("sha1"),
    sha256: createHash("sha256"),
    sha512: createHash("sha512"),
  };
  size = 0;

  update(chunk: Buffer): void {
    this.size += chunk.length;
    for (const h of Object.values(this.hashes)) h.update(chunk);
  }

  digests(): Digests {
    return {
      md5: this.hashes.md5.digest("hex"),
      sha1: this.hashes.sha1.digest("hex"),
      sha256: this.hashes.sha256.digest("hex"),
      sha512: this.hashes.sha512.digest("hex"),
    };
  }
}

/** Pass-through transform that hashes and counts every byte. */
export class DigestStream extends Transform {
  private digester = new Digester();

  get size(): number {
    return this.digester.size;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.digester.update(chunk);
    cb(null, chunk);
  }

  digests(): Digests {
    return this.digester.digests();
  }
}

/** Throws 400 when an expected digest does not match; nothing is published by the caller then. */
export function verifyDigests(actual: Digests, expect: PutOptions["expect"]): void {
  if (!expect) return;
  for (const alg of DIGEST_ALGORITHMS) {
    const want = expect[alg];
    if (want !== undefined && want !== null && want.toLowerCase() !== actual[alg]) {
      throw badRequest(`Checksum mismatch: ${alg} is ${actual[alg]}, expected ${want.toLowerCase()}`);
    }
  }
}

export function toReadable(body: Readable | Buffer | string): Readable {
  if (typeof body === "string" || Buffer.isBuffer(body)) return bufferStream(Buffer.from(body));
  return body;
}
