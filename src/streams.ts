// Reading a whole (small) body into memory with a size bound: request bodies of management and
// publish endpoints, upstream metadata documents, OCI manifests. Each caller names its own error.
import type { Readable } from "node:stream";

/**
 * The bytes of `stream`, or the error `tooLarge()` as soon as more than `limit` bytes arrived
 * (the stream is then destroyed, so the rest is never read).
 */
export async function readBounded(stream: Readable | AsyncIterable<Buffer | string>, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) {
      (stream as Partial<Readable>).destroy?.();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
