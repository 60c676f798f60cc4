// The streaming npm publish reader: attachment data goes to staging files, the rest is parsed.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { discardStaged, scanPublishBody, type ScanLimits } from "../../src/formats/npm/publish-stream.js";

function limits(over: Partial<ScanLimits> = {}): ScanLimits {
  return { stagingDir: mkdtempSync(path.join(tmpdir(), "npm-stage-")), metaLimit: 1 << 20, attachmentLimit: 1 << 24, ...over };
}

/** Feeds `text` in pieces of `size` bytes (1 = every possible split point). */
async function* pieces(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

const tarball = randomBytes(3000);
const doc = (data = tarball.toString("base64")) =>
  `{"_id":"@a/b","name":"@a/b","description":"has \\"quotes\\" and {braces} and a \\\\",` +
  `"versions":{"1.0.0":{"name":"@a/b","version":"1.0.0","data":"not an attachment","dist":{"tarball":"x"}}},` +
  `"_attachments":{"@a/b-1.0.0.tgz":{"content_type":"application/octet-stream","data":"${data}","length":${tarball.length}}},` +
  `"readme":"r\\u00e9adme"}`;

describe("npm publish body reader", () => {
  for (const size of [1, 7, 64, 100_000]) {
    it(`stages the attachment and keeps the rest (chunks of ${size} bytes)`, async () => {
      const l = limits();
      const out = await scanPublishBody(pieces(doc(), size), l);
      const a = out.attachments.get("@a/b-1.0.0.tgz")!;
      assert.ok(a, "attachment staged");
      assert.equal(a.size, tarball.length);
      assert.equal(a.digests.sha1, createHash("sha1").update(tarball).digest("hex"));
      assert.equal(a.sha512, createHash("sha512").update(tarball).digest("base64"));
      assert.ok(readFileSync(a.file).equals(tarball));
      const body = out.body as Record<string, any>;
      assert.equal(body._attachments["@a/b-1.0.0.tgz"].data, "");
      assert.equal(body._attachments["@a/b-1.0.0.tgz"].length, tarball.length);
      // A "data" key elsewhere is ordinary metadata.
      assert.equal(body.versions["1.0.0"].data, "not an attachment");
      assert.equal(body.description, 'has "quotes" and {braces} and a \\');
      assert.equal(body.readme, "réadme");
      await discardStaged(out);
      assert.deepEqual(readdirSync(l.stagingDir), []);
    });
  }

  it("accepts JSON-escaped slashes and unpadded base64", async () => {
    const b64 = tarball.subarray(0, 1000).toString("base64"); // 1000 bytes: padded with "=="
    const escaped = b64.replace(/=+$/, "").replace(/\//g, "\\/");
    const out = await scanPublishBody(pieces(doc(escaped), 5), limits());
    assert.ok(readFileSync(out.attachments.get("@a/b-1.0.0.tgz")!.file).equals(tarball.subarray(0, 1000)));
    await discardStaged(out);
  });

  it("reads an attachment that comes before the versions", async () => {
    const text = `{"_attachments":{"x-1.0.0.tgz":{"data":"${tarball.toString("base64")}"}},"name":"x","versions":{}}`;
    const out = await scanPublishBody(pieces(text, 13), limits());
    assert.equal(out.attachments.get("x-1.0.0.tgz")!.size, tarball.length);
    await discardStaged(out);
  });

  const rejects = async (text: string, status: number, message: RegExp, over: Partial<ScanLimits> = {}) => {
    const l = limits(over);
    await assert.rejects(scanPublishBody(pieces(text, 11), l), (err: Error & { status?: number }) => {
      assert.equal(err.status, status);
      assert.match(err.message, message);
      return true;
    });
    assert.deepEqual(readdirSync(l.stagingDir), [], "no staging file is left behind");
  };

  it("rejects bad base64, bad JSON and oversize bodies, leaving nothing staged", async () => {
    await rejects(doc("AAAA*AAA"), 400, /not valid base64/);
    await rejects(doc("AA==AAAA"), 400, /not valid base64/);
    await rejects(doc("A"), 400, /not valid base64/);
    await rejects(doc().slice(0, 2000), 400, /ended inside a string/);
    await rejects(doc().replace('"readme"', "readme"), 400, /Malformed JSON/);
    await rejects(`{"_attachments":{"a.tgz":{"data":"AAAA"},"a.tgz":{"data":"AAAA"}}}`, 400, /appears twice/);
    await rejects(doc(), 413, /Attachment '@a\/b-1.0.0.tgz' exceeds 100 bytes/, { attachmentLimit: 100 });
    await rejects(doc(), 413, /Publish metadata exceeds/, { metaLimit: 100 });
  });

  it("keeps memory flat for a large attachment", async () => {
    // 256 MiB of tarball as 341 MiB of base64, produced lazily. Holding it would cost > 600 MiB;
    // streaming costs a constant (GC slack of ~70 MiB was seen here, whatever the size).
    const block = randomBytes(3 * 1024 * 256); // base64-aligned
    const blockB64 = Buffer.from(block.toString("base64"));
    const count = 341;
    const before = process.memoryUsage().rss;
    let peak = before;
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(`{"name":"big","versions":{},"_attachments":{"big-1.0.0.tgz":{"data":"`);
      for (let i = 0; i < count; i++) {
        peak = Math.max(peak, process.memoryUsage().rss);
        yield blockB64;
      }
      yield Buffer.from(`"}}}`);
    }
    const out = await scanPublishBody(body(), limits({ attachmentLimit: 1 << 30 }));
    const size = block.length * count;
    assert.equal(out.attachments.get("big-1.0.0.tgz")!.size, size);
    assert.ok(peak - before < size / 2, `RSS grew by ${peak - before} bytes for a ${size}-byte attachment`);
    await discardStaged(out);
  });
});
