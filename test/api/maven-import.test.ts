// /.import (REST section 16) of maven files brings maven-metadata.xml up to date as a deploy does:
// the artifact-level document and the SNAPSHOT version-level one are regenerated from storage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ADMIN_PASSWORD, backends, startServer, type TestServer } from "../helpers/server.js";

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");
/** The document without its <lastUpdated> stamp (the time it was written). */
const stable = (xml: string) => xml.replace(/<lastUpdated>\d+<\/lastUpdated>/, "");

const RELEASES = ["com/example/lib/1.0/lib-1.0.jar", "com/example/lib/1.0/lib-1.0.pom", "com/example/lib/2.0/lib-2.0.jar"];
const SNAPSHOTS = [
  "com/example/lib/2.1-SNAPSHOT/lib-2.1-20260101.120000-1.jar",
  "com/example/lib/2.1-SNAPSHOT/lib-2.1-20260102.080000-2.jar",
  "com/example/lib/2.1-SNAPSHOT/lib-2.1-20260102.080000-2-sources.jar",
];

for (const backend of backends()) {
  describe(`maven import refreshes maven-metadata.xml [${backend}]`, () => {
    let s: TestServer;
    const basic: [string, string] = ["admin", ADMIN_PASSWORD];
    let keys = 0;
    const importFile = (repo: string, path: string, body: string, type = "maven") =>
      s.repo("PUT", `/.import/${repo}/${path}`, {
        basic,
        raw: body,
        headers: { "X-Pantera-Repo-Type": type, "X-Pantera-Idempotency-Key": `maven-import-${backend}-${++keys}` },
      });
    const get = (path: string) => s.repo("GET", path, { basic });

    before(async () => {
      s = await startServer({ backend });
      for (const [name, type] of [
        ["imported", "maven"],
        ["deployed", "maven"],
        ["gradle-imported", "gradle"],
      ]) {
        const res = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo: { type, storage: "default" } } });
        assert.ok(res.status < 300, res.text);
      }
    });
    after(() => s?.close());

    it("an imported release gets artifact-level metadata listing its versions, with checksums of the served document", async () => {
      for (const p of RELEASES) assert.equal((await importFile("imported", p, `bytes of ${p}`)).status, 201);
      const meta = await get("/imported/com/example/lib/maven-metadata.xml");
      assert.equal(meta.status, 200, meta.text);
      assert.match(meta.text, /<groupId>com\.example<\/groupId>/);
      assert.match(meta.text, /<artifactId>lib<\/artifactId>/);
      assert.match(meta.text, /<versions>\s*<version>1\.0<\/version>\s*<version>2\.0<\/version>\s*<\/versions>/);
      assert.match(meta.text, /<latest>2\.0<\/latest>/);
      assert.match(meta.text, /<release>2\.0<\/release>/);
      assert.equal((await get("/imported/com/example/lib/maven-metadata.xml.sha1")).text, sha1(meta.text));
    });

    it("imported SNAPSHOT files get version-level metadata (newest build per classifier) and the artifact level lists the SNAPSHOT", async () => {
      for (const p of SNAPSHOTS) assert.equal((await importFile("imported", p, `bytes of ${p}`)).status, 201);
      const snap = await get("/imported/com/example/lib/2.1-SNAPSHOT/maven-metadata.xml");
      assert.equal(snap.status, 200, snap.text);
      assert.match(snap.text, /<version>2\.1-SNAPSHOT<\/version>/);
      assert.match(snap.text, /<timestamp>20260102\.080000<\/timestamp>\s*<buildNumber>2<\/buildNumber>/);
      assert.match(snap.text, /<extension>jar<\/extension>\s*<value>2\.1-20260102\.080000-2<\/value>/);
      assert.match(snap.text, /<classifier>sources<\/classifier>\s*<extension>jar<\/extension>\s*<value>2\.1-20260102\.080000-2<\/value>/);
      const top = await get("/imported/com/example/lib/maven-metadata.xml");
      assert.match(top.text, /<version>2\.1-SNAPSHOT<\/version>/);
      assert.match(top.text, /<latest>2\.1-SNAPSHOT<\/latest>/);
      assert.match(top.text, /<release>2\.0<\/release>/);
    });

    it("the documents are the ones a deploy of the same files makes", async () => {
      for (const p of [...RELEASES, ...SNAPSHOTS]) assert.equal((await s.repo("PUT", `/deployed/${p}`, { basic, raw: `bytes of ${p}` })).status, 201);
      for (const doc of ["com/example/lib/maven-metadata.xml", "com/example/lib/2.1-SNAPSHOT/maven-metadata.xml"]) {
        const deployed = await get(`/deployed/${doc}`);
        const imported = await get(`/imported/${doc}`);
        assert.equal(deployed.status, 200, doc);
        assert.equal(stable(imported.text), stable(deployed.text), doc);
      }
    });

    it("an imported maven-metadata.xml is kept until the artifacts it describes are stored, then the server's document replaces it", async () => {
      const doc = `<?xml version="1.0" encoding="UTF-8"?><metadata><groupId>org.acme</groupId><artifactId>tool</artifactId><versioning><latest>3.0</latest><release>3.0</release><versions><version>3.0</version></versions><lastUpdated>20200101000000</lastUpdated></versioning></metadata>`;
      assert.equal((await importFile("imported", "org/acme/tool/maven-metadata.xml", doc)).status, 201);
      assert.equal((await get("/imported/org/acme/tool/maven-metadata.xml")).text, doc);
      assert.equal((await importFile("imported", "org/acme/tool/3.0/tool-3.0.jar", "tool 3.0")).status, 201);
      assert.equal((await importFile("imported", "org/acme/tool/3.1/tool-3.1.jar", "tool 3.1")).status, 201);
      const meta = await get("/imported/org/acme/tool/maven-metadata.xml");
      assert.match(meta.text, /<versions>\s*<version>3\.0<\/version>\s*<version>3\.1<\/version>\s*<\/versions>/);
      assert.match(meta.text, /<release>3\.1<\/release>/);
      assert.doesNotMatch(meta.text, /20200101000000/);
    });

    it("gradle repositories (same layout) are refreshed too", async () => {
      assert.equal((await importFile("gradle-imported", "com/example/plugin/0.1/plugin-0.1.jar", "plugin", "gradle")).status, 201);
      const meta = await get("/gradle-imported/com/example/plugin/maven-metadata.xml");
      assert.equal(meta.status, 200, meta.text);
      assert.match(meta.text, /<release>0\.1<\/release>/);
    });
  });
}
