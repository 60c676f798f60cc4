// Streaming reader for `npm publish` bodies.
//
// npm sends one JSON document whose `_attachments.<file>.data` strings hold the tarballs in
// base64, so a large package is a large JSON string. Parsing it whole would hold the tarball
// (and its base64 text) in memory. This reader walks the JSON bytes as they arrive, decodes
// those strings straight into staging files (hashing as it goes), and keeps only the rest of
// the document, with each data string emptied, for JSON.parse. Only the structure needed to
// recognise the data strings is tracked; JSON.parse validates everything else.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, unlink } from "node:fs/promises";
import path from "node:path";
import { badRequest, payloadTooLarge } from "../../errors.js";
import { jsonDepthExceeds, MAX_JSON_DEPTH } from "../../json.js";
import { Digester } from "../../storage/digest.js";
import { keepSwept, stagingDone, stagingFile } from "../../storage/stale-files.js";
import type { Digests } from "../../storage/types.js";

export interface StagedAttachment {
  /** The attachment's key in `_attachments` as the client sent it. */
  name: string;
  /** Staging file holding the decoded bytes. */
  file: string;
  size: number;
  /** SHA-512 in base64, as npm's `integrity` carries it. */
  sha512: string;
  /** All four digests in hex (shasum is `sha1`; the staged file is published as is). */
  digests: Digests;
}

export interface ScannedPublish {
  /** The document with every attachment's `data` replaced by "". */
  body: unknown;
  attachments: Map<string, StagedAttachment>;
}

export interface ScanLimits {
  stagingDir: string;
  /** Bytes of JSON outside the attachment data (manifests, readme, ...). */
  metaLimit: number;
  /** Decoded bytes of one attachment. */
  attachmentLimit: number;
}

const tooLarge = (what: string, limit: number) => payloadTooLarge(`${what} exceeds ${limit} bytes`);
const notBase64 = (name: string) => badRequest(`Attachment '${name}' data is not valid base64`);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_KEY_BYTES = 4096;
const STAGING_PREFIX = "npm-publish-";

interface Frame {
  object: boolean;
  key: string | null;
  expectKey: boolean;
}

/** Decodes one attachment's base64 into a staging file, hashing on the way. */
class AttachmentSink {
  readonly out: WriteStream;
  private digester = new Digester();
  private carry = "";
  private padded = false;

  constructor(
    readonly name: string,
    readonly file: string,
    private limit: number,
  ) {
    stagingFile(file);
    this.out = createWriteStream(file, { flags: "wx" });
    // Errors surface through finish(); keep an early one from being unhandled.
    this.out.on("error", () => {});
  }

  /** Takes base64 text (already unescaped from JSON). */
  write(text: string): void {
    if (!text) return;
    if (this.padded) throw notBase64(this.name);
    let s = this.carry + text;
    const whole = s.length - (s.length % 4);
    this.carry = s.slice(whole);
    s = s.slice(0, whole);
    if (!s) return;
    let pad = 0;
    if (s.charCodeAt(s.length - 1) === 0x3d) pad = s.charCodeAt(s.length - 2) === 0x3d ? 2 : 1;
    if (pad) {
      // Padding ends the data.
      if (this.carry) throw notBase64(this.name);
      this.padded = true;
    }
    // Node's decoder skips characters outside the alphabet (and stops at a stray "="), so a
    // short result is how invalid text shows; it costs nothing extra on the hot path.
    const bytes = Buffer.from(s, "base64");
    if (bytes.length !== (s.length / 4) * 3 - pad) throw notBase64(this.name);
    if (this.digester.size + bytes.length > this.limit) throw tooLarge(`Attachment '${this.name}'`, this.limit);
    this.digester.update(bytes);
    this.out.write(bytes);
  }

  async discard(): Promise<void> {
    if (!this.out.closed) {
      const closed = once(this.out, "close");
      this.out.destroy();
      await closed;
    }
    await unlink(this.file).catch(() => {});
    stagingDone(this.file);
  }

  async finish(): Promise<StagedAttachment> {
    // Unpadded base64 is accepted, as Buffer.from accepts it; a single leftover char is not data.
    if (this.carry.length === 1) throw notBase64(this.name);
    if (this.carry) this.write("=".repeat(4 - this.carry.length));
    this.out.end();
    await once(this.out, "finish");
    const digests = this.digester.digests();
    return { name: this.name, file: this.file, size: this.digester.size, sha512: Buffer.from(digests.sha512, "hex").toString("base64"), digests };
  }
}

/**
 * Reads a publish body from `source`. On any failure every staging file is removed before the
 * error propagates; on success the caller owns the staging files (see discardStaged).
 */
/** Sweeps publish staging files a crash left in `dir`, now and periodically (stale-files.ts). */
export function keepStagingSwept(dir: string): Promise<number> {
  return keepSwept(dir, (name) => name.startsWith(STAGING_PREFIX));
}

export async function scanPublishBody(source: AsyncIterable<Buffer | string>, limits: ScanLimits): Promise<ScannedPublish> {
  await mkdir(limits.stagingDir, { recursive: true });
  // Staging files of a publish a crash interrupted are swept from here on.
  await keepStagingSwept(limits.stagingDir);
  const staged = new Map<string, StagedAttachment>();
  const open: AttachmentSink[] = [];
  const meta: Buffer[] = [];
  let metaSize = 0;
  const stack: Frame[] = [];
  let inString = false;
  let isKey = false;
  let escape = false;
  let unicode = ""; // hex digits of a \u escape inside a data string, plus the marker "u"
  let keyBytes: Buffer[] = [];
  let keySize = 0;
  let keyStart = 0; // where the current key's bytes start in this chunk
  let sink: AttachmentSink | null = null;
  let pending: Promise<void>[] = [];
  const finishes: Promise<unknown>[] = [];

  const keepMeta = (b: Buffer) => {
    if (!b.length) return;
    metaSize += b.length;
    if (metaSize > limits.metaLimit) throw tooLarge("Publish metadata", limits.metaLimit);
    meta.push(b);
  };

  const startData = (): AttachmentSink | null => {
    const [root, atts, att] = stack.length === 3 ? stack : [];
    if (!root?.object || root.key !== "_attachments" || !atts?.object || !att?.object || att.key !== "data") return null;
    const name = atts.key!;
    if (staged.has(name) || open.some((s) => s.name === name)) throw badRequest(`Attachment '${name}' appears twice`);
    const s = new AttachmentSink(name, path.join(limits.stagingDir, STAGING_PREFIX + randomUUID()), limits.attachmentLimit);
    open.push(s);
    return s;
  };

  try {
    for await (const raw of source) {
      const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
      let segStart = 0; // start of the bytes of this chunk still to keep as metadata
      let i = 0;
      while (i < chunk.length) {
        if (sink) {
          // Inside an attachment's data string: bulk-decode up to the next quote or escape.
          if (unicode) {
            unicode += String.fromCharCode(chunk[i++]);
            if (unicode.length === 5) {
              sink.write(String.fromCharCode(parseInt(unicode.slice(1), 16)));
              unicode = "";
            }
            continue;
          }
          if (escape) {
            escape = false;
            const c = chunk[i++];
            if (c === 0x75) unicode = "u";
            else if (c === 0x2f) sink.write("/");
            else if (c !== 0x6e && c !== 0x72 && c !== 0x74) throw notBase64(sink.name); // wrapped lines are tolerated
            continue;
          }
          const q = chunk.indexOf(QUOTE, i);
          const b = chunk.indexOf(BACKSLASH, i);
          const stop = q === -1 ? (b === -1 ? chunk.length : b) : b === -1 ? q : Math.min(q, b);
          sink.write(chunk.toString("latin1", i, stop));
          i = stop;
          if (i === chunk.length) break;
          if (chunk[i] === BACKSLASH) {
            escape = true;
            i++;
            continue;
          }
          // Closing quote: the data string ends; it is kept as "" in the metadata.
          const done = sink;
          sink = null;
          inString = false;
          const finished = done.finish().then((a) => {
            open.splice(open.indexOf(done), 1);
            staged.set(a.name, a);
          });
          pending.push(finished);
          finishes.push(finished);
          segStart = i; // the closing quote goes to the metadata
          i++;
          continue;
        }
        const c = chunk[i];
        if (inString) {
          if (escape) escape = false;
          else if (c === BACKSLASH) escape = true;
          else if (c === QUOTE) {
            inString = false;
            if (isKey) {
              keyBytes.push(chunk.subarray(keyStart, i));
              const top = stack[stack.length - 1];
              try {
                top.key = JSON.parse(`"${Buffer.concat(keyBytes).toString("utf8")}"`) as string;
              } catch {
                throw badRequest("Malformed JSON body");
              }
              top.expectKey = false;
              keyBytes = [];
              keySize = 0;
            }
          } else if (isKey && ++keySize > MAX_KEY_BYTES) throw badRequest("Malformed JSON body: key too long");
          i++;
          continue;
        }
        switch (c) {
          case QUOTE: {
            inString = true;
            const top = stack[stack.length - 1];
            isKey = !!top?.object && top.expectKey;
            if (isKey) keyStart = i + 1;
            else {
              sink = startData();
              if (sink) {
                keepMeta(chunk.subarray(segStart, i + 1));
                segStart = chunk.length; // nothing more of this chunk is metadata until the string ends
              }
            }
            break;
          }
          case 0x7b: // {
            stack.push({ object: true, key: null, expectKey: true });
            break;
          case 0x5b: // [
            stack.push({ object: false, key: null, expectKey: false });
            break;
          case 0x7d: // }
          case 0x5d: // ]
            stack.pop();
            break;
          case 0x2c: {
            // ,
            const top = stack[stack.length - 1];
            if (top?.object) top.expectKey = true;
            break;
          }
        }
        i++;
      }
      if (!sink) keepMeta(chunk.subarray(Math.min(segStart, chunk.length)));
      if (inString && isKey) {
        // A key split across chunks: keep its bytes so far.
        keyBytes.push(chunk.subarray(keyStart));
        keyStart = 0;
      }
      if (pending.length) {
        const p = pending;
        pending = [];
        await Promise.all(p);
      }
      if (sink?.out.writableNeedDrain) await once(sink.out, "drain");
    }
    if (sink || inString) throw badRequest("Malformed JSON body: the request ended inside a string");
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(meta).toString("utf8"));
    } catch {
      throw badRequest("Malformed JSON body");
    }
    // The manifests are stored as JSON again: deeper nesting would overflow JSON.stringify.
    if (jsonDepthExceeds(body)) throw badRequest(`JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
    return { body, attachments: staged };
  } catch (err) {
    await Promise.allSettled(finishes);
    // A write stream may still be opening its file: wait for it to close before unlinking.
    await Promise.allSettled(open.map((s) => s.discard()));
    await discardStaged({ body: undefined, attachments: staged });
    throw err;
  }
}

/** Removes the staging files of a scanned publish. */
export async function discardStaged(scanned: ScannedPublish | undefined): Promise<void> {
  if (!scanned) return;
  await Promise.allSettled([...scanned.attachments.values()].map((a) => unlink(a.file).finally(() => stagingDone(a.file))));
}
