// Maven deploys: uploaded checksum files (.md5/.sha1/.sha256/.sha512) are verified against the
// stored file; a mismatch is a 400 and leaves the stored file intact.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseChecksumBody } from "../../src/formats/maven/checksum.js";
import { ADMIN_PASSWORD, backends, expectError, startServer, type TestServer } from "../helpers/server.js";

const ALGS = ["md5", "sha1", "sha256", "sha512"] as const;
const digest = (alg: string, s: string) => createHash(alg).update(s).digest("hex");

describe("parseChecksumBody", () => {
  const sha1 = digest("sha1", "x");
  it("accepts a bare digest, `<hex>  <file>`, `<hex> *<file>` and the BSD form, in any case", () => {
    assert.equal(parseChecksumBody(sha1, "sha1"), sha1);
    assert.equal(parseChecksumBody(`${sha1.toUpperCase()}\n`, "sha1"), sha1);
    assert.equal(parseChecksumBody(`  ${sha1}  lib-1.0.jar\n`, "sha1"), sha1);
    assert.equal(parseChecksumBody(`${sha1} *lib-1.0.jar`, "sha1"), sha1);
    assert.equal(parseChecksumBody(`SHA1 (lib-1.0.jar) = ${sha1}\n`, "sha1"), sha1);
  });
  it("rejects empty bodies, non-hex text and digests of another length", () => {
    assert.equal(parseChecksumBody("", "sha1"), null);
    assert.equal(parseChecksumBody("  \n", "sha1"), null);
    assert.equal(parseChecksumBody("not a checksum", "sha1"), null);
    assert.equal(parseChecksumBody(digest("md5", "x"), "sha1"), null);
    assert.equal(parseChecksumBody(sha1, "sha256"), null);
    assert.equal(parseChecksumBody(sha1.slice(0, 39) + "g", "sha1"), null);
  });
});

for (const backend of backends()) {
  describe(`maven: uploaded checksums are verified [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    const jar = "com/example/sums/1.0/sums-1.0.jar";
    const body = "jar bytes for checksum verification";
    const put = (p: string, raw: string) => s.repo("PUT", `/releases/${p}`, { basic, raw });
    const get = (p: string) => s.repo("GET", `/releases/${p}`, { basic });

    before(async () => {
      s = await startServer({ backend });
      const admin = await s.services.auth.authenticateToken(s.adminToken);
      await s.services.repositories.put(admin, "releases", { type: "maven", storage: "default" });
      const res = await put(jar, body);
      assert.equal(res.status, 201, res.text);
    });
    after(() => s?.close());

    it("a matching checksum of every algorithm is accepted (bare or `<hex>  <file>`)", async () => {
      for (const alg of ALGS) {
        const bare = await put(`${jar}.${alg}`, digest(alg, body));
        assert.equal(bare.status, 201, `${alg}: ${bare.text}`);
        const named = await put(`${jar}.${alg}`, `${digest(alg, body).toUpperCase()}  sums-1.0.jar\n`);
        assert.equal(named.status, 201, `${alg}: ${named.text}`);
        const served = await get(`${jar}.${alg}`);
        assert.equal(served.text, digest(alg, body), alg);
      }
    });

    it("a mismatching checksum is a 400 naming the mismatch; the stored file and its served digests stay intact", async () => {
      for (const alg of ALGS) {
        const res = await put(`${jar}.${alg}`, digest(alg, "other bytes"));
        expectError(res, 400, "BAD_REQUEST");
        assert.match(res.body.message, /mismatch/i, alg);
        assert.ok(res.body.message.includes(digest(alg, "other bytes")), res.body.message);
        const served = await get(`${jar}.${alg}`);
        assert.equal(served.status, 200);
        assert.equal(served.text, digest(alg, body), `${alg} still the stored file's digest`);
      }
      const stored = await get(jar);
      assert.equal(stored.status, 200);
      assert.equal(stored.text, body);
      assert.ok(await s.services.artifacts.find("releases", jar), "still indexed");
    });

    it("a checksum that is not one (wrong length, not hex, empty) is a 400", async () => {
      for (const raw of ["", "hello", digest("md5", body), "a".repeat(5000)]) {
        const res = await put(`${jar}.sha1`, raw);
        expectError(res, 400, "BAD_REQUEST");
      }
    });

    it("a redeployed file is verified against its new bytes", async () => {
      const p = "com/example/sums/2.0/sums-2.0.jar";
      assert.equal((await put(p, "first")).status, 201);
      assert.equal((await put(`${p}.sha1`, digest("sha1", "first"))).status, 201);
      assert.equal((await put(p, "second!")).status, 201);
      expectError(await put(`${p}.sha1`, digest("sha1", "first")), 400, "BAD_REQUEST");
      assert.equal((await put(`${p}.sha1`, digest("sha1", "second!"))).status, 201);
    });

    it("a SNAPSHOT's timestamped file is verified too", async () => {
      const p = "com/example/sums/3.0-SNAPSHOT/sums-3.0-20240101.120000-1.jar";
      assert.equal((await put(p, "snap")).status, 201);
      assert.equal((await put(`${p}.md5`, digest("md5", "snap"))).status, 201);
      expectError(await put(`${p}.md5`, digest("md5", "snap?")), 400, "BAD_REQUEST");
    });

    it("a checksum of a file that is not deployed is a 404 and stores nothing", async () => {
      const p = "com/example/sums/9.9/sums-9.9.jar";
      expectError(await put(`${p}.sha1`, digest("sha1", "x")), 404, "NOT_FOUND");
      assert.equal((await get(`${p}.sha1`)).status, 404);
      assert.equal((await get(p)).status, 404);
    });

    it("maven-metadata.xml checksums are accepted and ignored (the server regenerates the metadata)", async () => {
      const res = await put("com/example/sums/maven-metadata.xml.sha1", digest("sha1", "the client's own metadata"));
      assert.equal(res.status, 201, res.text);
      const meta = await get("com/example/sums/maven-metadata.xml");
      assert.equal(meta.status, 200);
      assert.equal((await get("com/example/sums/maven-metadata.xml.sha1")).text, digest("sha1", meta.text));
    });
  });
}
