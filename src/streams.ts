// Reading a whole (small) body into memory with a size bound: request bodies of management and
// publish endpoints, upstream metadata documents, OCI manifests. Each caller names its own error.
import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";

/**
 * Bytes of a refused request body drained after the limit: enough for the client to finish
 * sending and read the answer, while a client that keeps sending is cut off.
 */
const DRAIN_LIMIT = 16 * 1024 * 1024;
/** How long a connection closed after a refused body waits for the client to stop sending. */
const LINGER_MS = 5_000;

/**
 * The bytes of `stream`, or the error `tooLarge()` as soon as more than `limit` bytes arrived.
 * Any other stream is then destroyed; an HTTP request body is drained instead (discardRequestBody),
 * so the client, still sending, is not reset before it reads the answer.
 */
export async function readBounded(stream: Readable | AsyncIterable<Buffer | string>, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const request = stream instanceof IncomingMessage ? stream : null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request ? request.iterator({ destroyOnReturn: false }) : stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) {
      if (request) discardRequestBody(request);
      else (stream as Partial<Readable>).destroy?.();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/**
 * Drops the rest of a request body that will not be read, up to DRAIN_LIMIT bytes (then the
 * connection is cut). When the answer closes the connection (`Connection: close`), the socket is
 * half-closed and lingers: closing it outright while the client still sends would reset the
 * connection, and the client's TCP stack would drop the answer it had not read yet.
 */
export function discardRequestBody(req: IncomingMessage): void {
  const socket = req.socket;
  let drained = 0;
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT) socket.destroy();
  });
  req.resume();
  lingerOnClose(socket);
}

/** Node's HTTP server ends a `Connection: close` exchange with destroySoon(): make it end, then linger. */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once("close", () => clearTimeout(timer));
  };
}
