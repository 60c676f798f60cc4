// REST section 14: dashboard stats (30-second cache), repos by type, request time series.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { backends, expectError, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";
import { bucketFor, parsePeriod } from "../../src/dashboard/service.js";

for (const backend of backends()) {
  describe(`dashboard [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
    });
    after(() => s.close());

    it("stats come from the repositories, artifacts index and cooldown blocks, served from a 30-second cache", async () => {
      for (const [name, type] of [
        ["maven-central", "maven-proxy"],
        ["npm-local", "npm"],
        ["maven-local", "maven"],
      ]) {
        const body = { repo: { type, storage: "default", ...(type.endsWith("-proxy") ? { remotes: [{ url: "https://repo1.maven.org/maven2" }] } : {}) } };
        assert.equal((await s.api("PUT", `/repositories/${name}`, { token: admin, body })).status, 200);
      }
      const prisma = s.services.db.prisma;
      await prisma.artifact.createMany({
        data: [
          { repoName: "maven-central", repoType: "maven-proxy", path: "a/1.jar", name: "a", version: "1", size: 1000n },
          { repoName: "maven-central", repoType: "maven-proxy", path: "a/2.jar", name: "a", version: "2", size: 2000n },
          { repoName: "npm-local", repoType: "npm", path: "p/-/p-1.tgz", name: "p", version: "1", size: 500n },
        ],
      });
      await prisma.cooldownBlock.createMany({
        data: [
          { repoName: "maven-central", repoType: "maven-proxy", packageName: "a", version: "3", blockedUntil: new Date(Date.now() + 86_400_000) },
          { repoName: "maven-central", repoType: "maven-proxy", packageName: "a", version: "4", blockedUntil: new Date(Date.now() - 1000) },
        ],
      });
      let res = await s.api("GET", "/dashboard/stats", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        repo_count: 3,
        artifact_count: 3,
        total_storage: 3500,
        blocked_count: 1,
        top_repos: [
          { name: "maven-central", type: "maven-proxy", artifact_count: 2, size: 3000 },
          { name: "npm-local", type: "npm", artifact_count: 1, size: 500 },
        ],
      });
      // Cached: a new repository does not show until the cache expires.
      // A row of a type this build does not serve (made by a build with more formats): counted like any other.
      await prisma.repository.create({ data: { name: "helm-local", type: "helm", storage: "default", config: { type: "helm", storage: "default" } } });
      res = await s.api("GET", "/dashboard/stats", { token: admin });
      assert.equal(res.body.repo_count, 3);
    });

    it("repos-by-type counts repositories per type", async () => {
      const res = await s.api("GET", "/dashboard/repos-by-type", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { types: { helm: 1, maven: 1, "maven-proxy": 1, npm: 1 } });
    });

    it("requests is a real time series of persisted per-minute request counts", async () => {
      for (let i = 0; i < 5; i++) await s.repo("GET", "/.health");
      for (let i = 0; i < 3; i++) await s.api("GET", "/health");
      const res = await s.api("GET", "/dashboard/requests?period=1h", { token: admin });
      assert.equal(res.status, 200);
      assert.equal(res.body.period, "1h");
      assert.equal(res.body.bucket_seconds, 60);
      assert.equal(res.body.data.length, 60);
      const last = res.body.data.at(-1);
      assert.ok(last.repository >= 5, JSON.stringify(last));
      assert.ok(last.api >= 3, JSON.stringify(last));
      assert.ok(res.body.total >= 8);
      for (let i = 1; i < res.body.data.length; i++) assert.equal(Date.parse(res.body.data[i].timestamp) - Date.parse(res.body.data[i - 1].timestamp), 60_000);
      const rows = await s.services.db.prisma.requestCount.findMany();
      assert.ok(
        rows.some((r) => r.app === "repository" && r.count >= 5n),
        "counts are persisted in request_counts",
      );

      const def = await s.api("GET", "/dashboard/requests", { token: admin });
      assert.equal(def.body.period, "24h");
      assert.equal(def.body.data.length, 288);
      const week = await s.api("GET", "/dashboard/requests?period=7d", { token: admin });
      assert.equal(week.body.bucket_seconds, 3600);
      assert.equal(week.body.data.length, 168);
      assert.ok(week.body.total >= res.body.total);
      expectError(await s.api("GET", "/dashboard/requests?period=forever", { token: admin }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/dashboard/requests?period=1000d", { token: admin }), 400, "BAD_REQUEST");
    });

    it("needs an authenticated caller", async () => {
      for (const p of ["/dashboard/stats", "/dashboard/repos-by-type", "/dashboard/requests"]) expectError(await s.api("GET", p), 401, "UNAUTHORIZED");
      const plain = await userWithPermissions(s, "dash-user", {});
      assert.equal((await s.api("GET", "/dashboard/stats", { token: plain })).status, 200);
    });

    it("period parsing and bucket widths", () => {
      assert.equal(parsePeriod("24h"), 86_400_000);
      assert.equal(bucketFor(parsePeriod("1h")), 60_000);
      assert.equal(bucketFor(parsePeriod("24h")), 300_000);
      assert.equal(bucketFor(parsePeriod("30d")), 21_600_000);
    });
  });
}
