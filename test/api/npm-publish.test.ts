// npm publish over HTTP: the body streams to storage (large tarballs), checksums are
// enforced, and an interrupted or refused publish leaves nothing visible or staged.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { startServer, type TestServer } from "../helpers/server.js";

describe("npm publish bodies over HTTP", () => {
  let s: TestServer;
  let auth: Record<string, string>;

  before(async () => {
    s = await startServer();
    const res = await s.api("PUT", "/repositories/npm-local", { token: s.adminToken, body: { repo: { type: "npm", storage: "default" } } });
    assert.ok(res.status < 300, res.text);
    auth = { authorization: `Bearer ${s.adminToken}` };
  });
  after(async () => s?.close());

  const staging = () => {
    const dir = path.join(s.config.dataDir, "tmp");
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  /** The JSON npm sends for `npm publish`, as a head, the base64 tarball, and a tail. */
  function publishBody(name: string, version: string, tarball: Buffer, opts: { integrity?: string } = {}) {
    const file = `${name}-${version}.tgz`;
    const integrity = opts.integrity ?? `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
    const manifest = {
      name,
      version,
      dist: { integrity, shasum: createHash("sha1").update(tarball).digest("hex"), tarball: `http://ignored/${name}/-/${file}` },
    };
    const head = `{"_id":"${name}","name":"${name}","dist-tags":{"latest":"${version}"},"versions":{"${version}":${JSON.stringify(manifest)}},"_attachments":{"${file}":{"content_type":"application/octet-stream","length":${tarball.length},"data":"`;
    return { head, data: tarball.toString("base64"), tail: `"}}}` };
  }

  /** PUTs a body streamed in 64 KiB pieces with chunked encoding; returns status and text. */
  function put(pkg: string, parts: string[]): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${s.repoUrl}/npm-local/${pkg}`, { method: "PUT", headers: { ...auth, "content-type": "application/json" } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      (async () => {
        for (const part of parts) {
          for (let i = 0; i < part.length; i += 65536) {
            if (!req.write(part.slice(i, i + 65536))) await new Promise((r) => req.once("drain", r));
          }
        }
        req.end();
      })().catch(reject);
    });
  }

  it("publishes a 24 MiB tarball streamed in pieces and serves it back byte for byte", async () => {
    const tarball = randomBytes(24 * 1024 * 1024);
    const b = publishBody("big-pkg", "1.0.0", tarball);
    const res = await put("big-pkg", [b.head, b.data, b.tail]);
    assert.equal(res.status, 201, res.text);
    const doc = await s.repo("GET", "/npm-local/big-pkg", { headers: auth });
    assert.equal(doc.status, 200);
    const dist = doc.body.versions["1.0.0"].dist;
    assert.equal(dist.integrity, `sha512-${createHash("sha512").update(tarball).digest("base64")}`);
    const tgz = await fetch(dist.tarball, { headers: auth });
    assert.equal(tgz.status, 200);
    assert.ok(Buffer.from(await tgz.arrayBuffer()).equals(tarball));
    assert.deepEqual(staging(), [], "staging files are removed after publish");
  });

  it("refuses a tarball that does not match dist.integrity, storing and staging nothing", async () => {
    const tarball = randomBytes(100_000);
    const b = publishBody("bad-integrity", "1.0.0", tarball, { integrity: `sha512-${createHash("sha512").update("other").digest("base64")}` });
    const res = await put("bad-integrity", [b.head, b.data, b.tail]);
    assert.equal(res.status, 400);
    assert.match(res.text, /does not match dist.integrity/);
    assert.equal((await s.repo("GET", "/npm-local/bad-integrity", { headers: auth })).status, 404);
    assert.equal((await s.repo("GET", "/npm-local/bad-integrity/-/bad-integrity-1.0.0.tgz", { headers: auth })).status, 404);
    assert.deepEqual(staging(), []);
  });

  it("answers 400 for attachment data that is not base64", async () => {
    const b = publishBody("bad-b64", "1.0.0", randomBytes(1000));
    const res = await put("bad-b64", [b.head, "!!!!" + b.data, b.tail]);
    assert.equal(res.status, 400);
    assert.match(res.text, /not valid base64/);
    assert.deepEqual(staging(), []);
  });

  it("leaves nothing visible or staged when the client disconnects mid-upload", async () => {
    const tarball = randomBytes(8 * 1024 * 1024);
    const b = publishBody("cut-off", "1.0.0", tarball);
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.repoUrl}/npm-local/cut-off`, { method: "PUT", headers: { ...auth, "content-type": "application/json" } });
      req.on("error", () => resolve());
      req.write(b.head);
      req.write(b.data.slice(0, 4 * 1024 * 1024), () => setTimeout(() => req.destroy(), 200));
    });
    // The server notices the abort asynchronously; give it a moment, then nothing may remain.
    let left = staging();
    for (let i = 0; i < 50 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = staging();
    }
    assert.deepEqual(left, [], "staging file removed after the abort");
    assert.equal((await s.repo("GET", "/npm-local/cut-off", { headers: auth })).status, 404);
    assert.equal((await s.repo("GET", "/npm-local/cut-off/-/cut-off-1.0.0.tgz", { headers: auth })).status, 404);
  });
});
