// Two nodes on one PostgreSQL and one shared storage: concurrent publishes of one npm
// package through both nodes must all land in the packument (the read-modify-write of the
// packument is serialised by a cluster-wide advisory lock, not a per-process one).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { postgresUrl, request, startSharedStorageCluster, type SharedStorageCluster, type TestServer } from "../helpers/server.js";

const pg = postgresUrl();

describe("cluster: npm publishes through two nodes", { skip: !pg ? "TEST_DATABASE_URL is needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let cluster: SharedStorageCluster;
  before(async () => {
    cluster = await startSharedStorageCluster("npm-local", "npm");
    ({ a, b } = cluster);
  });
  after(async () => cluster?.close());

  function publish(node: TestServer, version: string) {
    const tarball = randomBytes(200_000);
    const file = `racy-${version}.tgz`;
    const body = {
      _id: "racy",
      name: "racy",
      "dist-tags": { [`v${version.replace(/\./g, "-")}`]: version },
      versions: {
        [version]: { name: "racy", version, dist: { shasum: createHash("sha1").update(tarball).digest("hex"), tarball: `http://x/racy/-/${file}` } },
      },
      _attachments: { [file]: { content_type: "application/octet-stream", data: tarball.toString("base64"), length: tarball.length } },
    };
    return request("PUT", `${node.repoUrl}/npm-local/racy`, { token: node.adminToken, body });
  }

  it("keeps every version when 12 publishes race across both nodes", async () => {
    const versions = Array.from({ length: 12 }, (_, i) => `1.0.${i}`);
    const results = await Promise.all(versions.map((v, i) => publish(i % 2 ? b : a, v)));
    for (const r of results) assert.equal(r.status, 201, r.text);
    for (const node of [a, b]) {
      const doc = await node.repo("GET", "/npm-local/racy", { token: node.adminToken });
      assert.equal(doc.status, 200);
      assert.deepEqual(Object.keys(doc.body.versions).sort(), [...versions].sort(), "no version lost to a concurrent write");
      assert.equal(Object.keys(doc.body["dist-tags"]).filter((t) => t.startsWith("v1-0-")).length, 12);
    }
  });
});
