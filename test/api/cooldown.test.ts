import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { backends, createPostgresDatabase, expectError, postgresUrl, redisUrl, startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms);

for (const backend of backends()) {
  describe(`cooldown [${backend}]`, () => {
    let s: TestServer;
    let admin: string;
    let reader: string;
    let outsider: string;
    const mavenCentral = { name: "maven-central", type: "maven-proxy" };
    const npmProxy = { name: "npm-proxy", type: "npm-proxy" };
    const pypiProxy = { name: "pypi-proxy", type: "pypi-proxy" };

    before(async () => {
      s = await startServer({ backend });
      admin = s.adminToken;
      const repos: [string, Record<string, unknown>][] = [
        ["maven-central", { type: "maven-proxy", storage: "default", remotes: [{ url: "https://repo1.maven.org/maven2" }] }],
        ["npm-proxy", { type: "npm-proxy", storage: "default", remotes: [{ url: "https://registry.npmjs.org" }] }],
        ["pypi-proxy", { type: "pypi-proxy", storage: "default", remotes: [{ url: "https://pypi.org/simple" }] }],
        ["npm-local", { type: "npm", storage: "default" }],
      ];
      for (const [name, repo] of repos) {
        const res = await s.api("PUT", `/repositories/${name}`, { token: admin, body: { repo } });
        assert.ok(res.status === 200 || res.status === 201, `${name}: ${res.status} ${res.text}`);
      }
      reader = await userWithPermissions(s, "cdreader", { api_cooldown_permissions: ["read"] });
      outsider = await userWithPermissions(s, "cdoutsider", { "*": ["read"] });
    });
    after(() => s.close());

    it("GET /cooldown/config: defaults, and permissions", async () => {
      const res = await s.api("GET", "/cooldown/config", { token: admin });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { enabled: false, minimum_allowed_age: "7d", repo_types: {} });
      expectError(await s.api("GET", "/cooldown/config"), 401, "UNAUTHORIZED");
      expectError(await s.api("GET", "/cooldown/config", { token: outsider }), 403, "FORBIDDEN");
      assert.equal((await s.api("GET", "/cooldown/config", { token: reader })).status, 200);
    });

    it("while disabled, nothing is blocked", async () => {
      const d = await s.services.cooldown.evaluate(npmProxy, "left-pad", "9.9.9", ago(HOUR));
      assert.deepEqual(d, { allowed: true });
    });

    it("PUT /cooldown/config saves the documented body and GET shows it", async () => {
      const body = {
        enabled: true,
        minimum_allowed_age: "7d",
        repo_types: { "maven-proxy": { enabled: true, minimum_allowed_age: "3d" }, "npm-proxy": { enabled: false, minimum_allowed_age: "7d" } },
      };
      const put = await s.api("PUT", "/cooldown/config", { token: admin, body });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.body, { status: "saved" });
      assert.deepEqual((await s.api("GET", "/cooldown/config", { token: admin })).body, body);
      // partial update keeps the other fields; the settings section shows it too
      assert.equal((await s.api("PUT", "/cooldown/config", { token: admin, body: { enabled: true, minimum_allowed_age: "5d" } })).status, 200);
      const got = (await s.api("GET", "/cooldown/config", { token: admin })).body;
      assert.equal(got.minimum_allowed_age, "5d");
      assert.deepEqual(got.repo_types, body.repo_types);
      const section = await s.services.settings.getRaw("cooldown");
      assert.equal(section.minimum_allowed_age, "5d");
    });

    it("PUT /cooldown/config validates its input", async () => {
      const bad = [
        { minimum_allowed_age: "7 days" },
        { minimum_allowed_age: 7 },
        { enabled: "yes" },
        { repo_types: [] },
        { repo_types: { "nope-proxy": { enabled: true } } },
        { repo_types: { "npm-proxy": { minimum_allowed_age: "1w" } } },
        { repo_types: { "npm-proxy": { enabled: 1 } } },
        { repo_types: { "npm-proxy": "off" } },
      ];
      for (const body of bad) expectError(await s.api("PUT", "/cooldown/config", { token: admin, body }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/cooldown/config", { token: admin, raw: "{nope", headers: { "content-type": "application/json" } }), 400, "BAD_REQUEST");
      expectError(await s.api("PUT", "/cooldown/config", { token: reader, body: { enabled: false } }), 403, "FORBIDDEN");
      assert.equal((await s.api("GET", "/cooldown/config", { token: admin })).body.minimum_allowed_age, "5d", "nothing was saved");
    });

    it("the proxy API blocks young versions, records each block, and allows old, undated and hosted ones", async () => {
      // global on (5d); maven-proxy 3d; npm-proxy off; pypi-proxy inherits 5d
      const { allowed, blocked } = await s.services.cooldown.filterVersions(mavenCentral, "com.example:lib", [
        { version: "1.0.0", releasedAt: ago(30 * DAY) },
        { version: "1.1.0", releasedAt: ago(4 * DAY) },
        { version: "1.2.0", releasedAt: ago(2 * DAY) },
        { version: "1.3.0", releasedAt: ago(HOUR) },
        { version: "1.4.0", releasedAt: null },
      ]);
      assert.deepEqual([...allowed].sort(), ["1.0.0", "1.1.0", "1.4.0"]);
      assert.deepEqual([...blocked.keys()].sort(), ["1.2.0", "1.3.0"]);
      const b = blocked.get("1.3.0")!;
      assert.equal(b.reason, "TOO_YOUNG");
      assert.match(b.message, /Cooldown: com\.example:lib@1\.3\.0 .*minimum allowed age of 3d/);
      assert.ok(Math.abs(b.blockedUntil.getTime() - (Date.now() - HOUR + 3 * DAY)) < 60_000);

      const d = await s.services.cooldown.evaluate(pypiProxy, "requests", "3.0.0", ago(4 * DAY));
      assert.equal(d.allowed, false, "pypi inherits the global 5d");
      assert.deepEqual(await s.services.cooldown.evaluate(npmProxy, "left-pad", "9.9.9", ago(HOUR)), { allowed: true }, "npm-proxy disabled");
      assert.deepEqual(
        await s.services.cooldown.evaluate({ name: "npm-local", type: "npm" }, "x", "1.0.0", ago(HOUR)),
        { allowed: true },
        "hosted repositories are never blocked",
      );
      // evaluating again does not duplicate the record
      await s.services.cooldown.evaluate(mavenCentral, "com.example:lib", "1.3.0", ago(HOUR));
      assert.equal(await s.services.db.prisma.cooldownBlock.count({ where: { repoName: "maven-central" } }), 2);
      assert.equal((await s.services.cooldown.isBlocked(mavenCentral, "com.example:lib", "1.3.0")).allowed, false);
    });

    it("GET /cooldown/overview lists proxies with cooldown enabled and their active blocks", async () => {
      const res = await s.api("GET", "/cooldown/overview", { token: reader });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {
        repos: [
          { name: "maven-central", type: "maven-proxy", cooldown: "3d", active_blocks: 2 },
          { name: "pypi-proxy", type: "pypi-proxy", cooldown: "5d", active_blocks: 1 },
        ],
      });
      expectError(await s.api("GET", "/cooldown/overview", { token: outsider }), 403, "FORBIDDEN");
    });

    it("GET /cooldown/blocked pages, searches and shows the documented fields", async () => {
      // 60 more blocks for paging
      await s.services.cooldown.filterVersions(
        pypiProxy,
        "bulkpkg",
        Array.from({ length: 60 }, (_, i) => ({ version: `0.0.${i}`, releasedAt: ago(HOUR) })),
      );
      // an expired block (blocked_until in the past) is not listed
      await s.services.db.prisma.cooldownBlock.create({
        data: { repoName: "pypi-proxy", repoType: "pypi-proxy", packageName: "expired", version: "1.0", blockedUntil: ago(HOUR), releasedAt: ago(6 * DAY) },
      });
      let res = await s.api("GET", "/cooldown/blocked", { token: reader });
      assert.equal(res.status, 200);
      assert.equal(res.body.total, 63);
      assert.equal(res.body.size, 50);
      assert.equal(res.body.items.length, 50);
      assert.equal(res.body.hasMore, true);
      res = await s.api("GET", "/cooldown/blocked?page=1&size=50", { token: reader });
      assert.equal(res.body.items.length, 13);
      assert.equal(res.body.hasMore, false);
      res = await s.api("GET", "/cooldown/blocked?search=EXAMPLE:LIB", { token: reader });
      assert.equal(res.body.total, 2);
      const item = res.body.items.find((i: { version: string }) => i.version === "1.3.0");
      assert.deepEqual(Object.keys(item).sort(), [
        "blocked_date",
        "blocked_until",
        "package_name",
        "reason",
        "remaining_hours",
        "repo",
        "repo_type",
        "version",
      ]);
      assert.equal(item.package_name, "com.example:lib");
      assert.equal(item.repo, "maven-central");
      assert.equal(item.repo_type, "maven-proxy");
      assert.equal(item.reason, "TOO_YOUNG");
      assert.equal(item.remaining_hours, 71);
      assert.ok(Date.parse(item.blocked_until) > Date.parse(item.blocked_date));
      assert.equal((await s.api("GET", "/cooldown/blocked?search=pypi-proxy&size=5", { token: reader })).body.total, 61);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=0.0.5", { token: reader })).body.total, 11);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=expired", { token: reader })).body.total, 0);
      expectError(await s.api("GET", "/cooldown/blocked?page=x", { token: reader }), 400, "BAD_REQUEST");
      expectError(await s.api("GET", "/cooldown/blocked", { token: outsider }), 403, "FORBIDDEN");
    });

    it("POST /repositories/:name/cooldown/unblock makes one version available at once", async () => {
      const body = { artifact: "com.example:lib", version: "1.3.0" };
      expectError(await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: reader, body }), 403, "FORBIDDEN");
      const res = await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: admin, body });
      assert.equal(res.status, 204, res.text);
      assert.deepEqual(await s.services.cooldown.evaluate(mavenCentral, "com.example:lib", "1.3.0", ago(HOUR)), { allowed: true });
      assert.equal((await s.services.cooldown.isBlocked(mavenCentral, "com.example:lib", "1.3.0")).allowed, true);
      assert.equal((await s.services.cooldown.evaluate(mavenCentral, "com.example:lib", "1.2.0", ago(2 * DAY))).allowed, false, "others stay blocked");
      assert.equal((await s.api("GET", "/cooldown/blocked?search=example:lib", { token: admin })).body.total, 1);
      const row = await s.services.db.prisma.cooldownBlock.findFirst({ where: { packageName: "com.example:lib", version: "1.3.0" } });
      assert.equal(row?.unblockedBy, "admin");
      expectError(await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: admin, body }), 404, "NOT_FOUND");
      expectError(await s.api("POST", "/repositories/nope/cooldown/unblock", { token: admin, body }), 404, "NOT_FOUND");
      expectError(await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: admin, body: { version: "1.2.0" } }), 400, "BAD_REQUEST");
      expectError(
        await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: admin, body: { artifact: "com.example:lib" } }),
        400,
        "BAD_REQUEST",
      );
      expectError(
        await s.api("POST", "/repositories/maven-central/cooldown/unblock", { token: admin, body: { artifact: 5, version: "1" } }),
        400,
        "BAD_REQUEST",
      );
    });

    it("POST /repositories/:name/cooldown/unblock-all releases every block of one repository", async () => {
      expectError(await s.api("POST", "/repositories/pypi-proxy/cooldown/unblock-all", { token: reader }), 403, "FORBIDDEN");
      expectError(await s.api("POST", "/repositories/nope/cooldown/unblock-all", { token: admin }), 404, "NOT_FOUND");
      const res = await s.api("POST", "/repositories/pypi-proxy/cooldown/unblock-all", { token: admin });
      assert.equal(res.status, 204);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=pypi-proxy", { token: admin })).body.total, 0);
      assert.deepEqual(await s.services.cooldown.evaluate(pypiProxy, "bulkpkg", "0.0.7", ago(HOUR)), { allowed: true });
      assert.equal((await s.api("GET", "/cooldown/blocked?search=maven-central", { token: admin })).body.total, 1, "other repositories untouched");
    });

    it("changing the minimum age re-times blocks; they expire on their own", async () => {
      // maven-proxy 3d -> 1d: the 2-day-old 1.2.0 is now old enough
      const put = await s.api("PUT", "/cooldown/config", {
        token: admin,
        body: { repo_types: { "maven-proxy": { enabled: true, minimum_allowed_age: "1d" }, "npm-proxy": { enabled: true } } },
      });
      assert.equal(put.status, 200);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=maven-central", { token: admin })).body.total, 0);
      assert.equal((await s.services.cooldown.isBlocked(mavenCentral, "com.example:lib", "1.2.0")).allowed, true);
      assert.deepEqual(await s.services.cooldown.evaluate(mavenCentral, "com.example:lib", "1.2.0", ago(2 * DAY)), { allowed: true });
    });

    it("disabling cooldown for a type releases its blocks (hot reload, no restart)", async () => {
      // npm-proxy now inherits the global 5d
      assert.equal((await s.services.cooldown.evaluate(npmProxy, "left-pad", "2.0.0", ago(HOUR))).allowed, false);
      assert.equal((await s.services.cooldown.evaluate(npmProxy, "left-pad", "2.0.1", ago(HOUR))).allowed, false);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=left-pad", { token: admin })).body.total, 2);
      const put = await s.api("PUT", "/cooldown/config", { token: admin, body: { repo_types: { "npm-proxy": { enabled: false } } } });
      assert.equal(put.status, 200);
      assert.equal((await s.api("GET", "/cooldown/blocked?search=left-pad", { token: admin })).body.total, 0);
      assert.equal(await s.services.db.prisma.cooldownBlock.count({ where: { repoType: "npm-proxy" } }), 0);
      assert.deepEqual(await s.services.cooldown.evaluate(npmProxy, "left-pad", "2.0.0", ago(HOUR)), { allowed: true });
      const overview = (await s.api("GET", "/cooldown/overview", { token: admin })).body.repos.map((r: { name: string }) => r.name);
      assert.ok(!overview.includes("npm-proxy"));
      // globally off: everything released
      await s.services.cooldown.evaluate(pypiProxy, "fresh", "1.0.0", ago(HOUR));
      assert.equal((await s.api("PUT", "/cooldown/config", { token: admin, body: { enabled: false, repo_types: {} } })).status, 200);
      assert.equal((await s.api("GET", "/cooldown/blocked", { token: admin })).body.total, 0);
      assert.deepEqual((await s.api("GET", "/cooldown/overview", { token: admin })).body, { repos: [] });
    });

    it("is GraphQL first", async () => {
      const res = await s.graphql(`{ cooldownConfig { enabled minimumAllowedAge repoTypes { type } } cooldownBlocked(size: 1) { total } }`, {}, admin);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.data.cooldownConfig, { enabled: false, minimumAllowedAge: "5d", repoTypes: [] });
      const m = await s.graphql(`mutation { setCooldownConfig(input: {enabled: true, minimumAllowedAge: "2h"}) { status } }`, {}, admin);
      assert.deepEqual(m.body.data, { setCooldownConfig: { status: "saved" } });
      const bad = await s.graphql(`mutation { setCooldownConfig(input: {minimumAllowedAge: "2 hours"}) { status } }`, {}, admin);
      assert.equal(bad.body.errors[0].extensions.code, "BAD_REQUEST");
    });
  });
}

/** Polls until `check` holds (event delivery between nodes), failing after a generous bound. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never happened: ${what}`);
}

const pg = postgresUrl();
const redis = redisUrl();

describe("cooldown on two nodes (PostgreSQL + Redis)", { skip: !pg || !redis ? "TEST_DATABASE_URL and TEST_REDIS_URL are needed" : false }, () => {
  let a: TestServer;
  let b: TestServer;
  let drop: () => Promise<void>;
  const repo = { name: "npm-remote", type: "npm-proxy" };
  before(async () => {
    const db = await createPostgresDatabase();
    drop = db.drop;
    a = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
    b = await startServer({ backend: "postgres", databaseUrl: db.url, redisUrl: redis });
    const put = await a.api("PUT", "/repositories/npm-remote", {
      token: a.adminToken,
      body: { repo: { type: "npm-proxy", storage: "default", remotes: [{ url: "https://registry.npmjs.org" }] } },
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
  });

  it("a configuration saved on node A applies on node B without restart, and so do unblocks", async () => {
    // node B has read (and cached) the disabled configuration
    assert.deepEqual(await b.services.cooldown.evaluate(repo, "pkg", "1.0.0", ago(HOUR)), { allowed: true });
    assert.equal((await a.api("PUT", "/cooldown/config", { token: a.adminToken, body: { enabled: true, minimum_allowed_age: "2d" } })).status, 200);
    await eventually(async () => !(await b.services.cooldown.evaluate(repo, "pkg", "1.0.0", ago(HOUR))).allowed, "node B blocks after node A enabled cooldown");
    assert.equal((await a.api("GET", "/cooldown/blocked?search=pkg", { token: a.adminToken })).body.total, 1, "the block node B recorded is visible on node A");
    assert.equal(
      (await a.api("POST", "/repositories/npm-remote/cooldown/unblock", { token: a.adminToken, body: { artifact: "pkg", version: "1.0.0" } })).status,
      204,
    );
    assert.deepEqual(await b.services.cooldown.evaluate(repo, "pkg", "1.0.0", ago(HOUR)), { allowed: true });
    assert.equal((await b.api("PUT", "/cooldown/config", { token: b.adminToken, body: { repo_types: { "npm-proxy": { enabled: false } } } })).status, 200);
    await eventually(async () => (await a.services.cooldown.policy("npm-proxy")).enabled === false, "node A sees the type disabled on node B");
  });
});

describe("cooldown in a maven proxy (upstream Last-Modified)", () => {
  let s: TestServer;
  let upstream: http.Server;
  const files: Record<string, { body: string; modified: Date }> = {
    "com/acme/lib/1.0/lib-1.0.jar": { body: "old jar", modified: ago(30 * DAY) },
    "com/acme/lib/2.0/lib-2.0.jar": { body: "new jar", modified: ago(60_000) },
    "com/acme/lib/maven-metadata.xml": {
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>com.acme</groupId><artifactId>lib</artifactId><versioning><latest>2.0</latest><release>2.0</release><versions><version>1.0</version><version>2.0</version></versions><lastUpdated>20261123000000</lastUpdated></versioning></metadata>\n`,
      modified: ago(60_000),
    },
  };
  before(async () => {
    upstream = http.createServer((req, res) => {
      const f = files[decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "")];
      if (!f) return void res.writeHead(404).end();
      res.writeHead(200, { "content-length": Buffer.byteLength(f.body), "last-modified": f.modified.toUTCString() });
      res.end(req.method === "HEAD" ? undefined : f.body);
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    s = await startServer();
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const put = await s.api("PUT", "/repositories/maven-remote", {
      token: s.adminToken,
      body: { repo: { type: "maven-proxy", storage: "default", remotes: [{ url }] } },
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    assert.equal((await s.api("PUT", "/cooldown/config", { token: s.adminToken, body: { enabled: true, minimum_allowed_age: "7d" } })).status, 200);
  });
  after(async () => {
    await s?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  });

  it("serves old artifacts, refuses young ones with 403, hides them from maven-metadata.xml until unblocked", async () => {
    const auth = { token: s.adminToken };
    const old = await s.repo("GET", "/maven-remote/com/acme/lib/1.0/lib-1.0.jar", auth);
    assert.equal(old.status, 200);
    assert.equal(old.text, "old jar");
    const young = await s.repo("GET", "/maven-remote/com/acme/lib/2.0/lib-2.0.jar", auth);
    assert.equal(young.status, 403);
    assert.match(young.body.message, /Cooldown: com\.acme:lib@2\.0 was released .* minimum allowed age of 7d/);
    const blocked = (await s.api("GET", "/cooldown/blocked?search=com.acme", auth)).body;
    assert.equal(blocked.total, 1);
    assert.deepEqual([blocked.items[0].package_name, blocked.items[0].version, blocked.items[0].repo_type], ["com.acme:lib", "2.0", "maven-proxy"]);
    const meta = await s.repo("GET", "/maven-remote/com/acme/lib/maven-metadata.xml", auth);
    assert.equal(meta.status, 200);
    assert.ok(!meta.text.includes("<version>2.0</version>"), meta.text);
    assert.match(meta.text, /<release>1\.0<\/release>/);
    assert.match(meta.text, /<latest>1\.0<\/latest>/);
    assert.equal(
      (await s.api("POST", "/repositories/maven-remote/cooldown/unblock", { ...auth, body: { artifact: "com.acme:lib", version: "2.0" } })).status,
      204,
    );
    const now = await s.repo("GET", "/maven-remote/com/acme/lib/2.0/lib-2.0.jar", auth);
    assert.equal(now.status, 200);
    assert.equal(now.text, "new jar");
    assert.match((await s.repo("GET", "/maven-remote/com/acme/lib/maven-metadata.xml", auth)).text, /<version>2\.0<\/version>/);
  });
});
