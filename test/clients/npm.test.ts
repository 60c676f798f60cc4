// The real npm client against an npm group (hosted + proxy) whose proxy's upstream is a
// Verdaccio started by this test on a loopback port with a temp config and storage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startServer, userWithPermissions, type TestServer } from "../helpers/server.js";
import { startVerdaccio, type Verdaccio } from "../../bench/verdaccio.js";

export interface NpmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the npm client with a temp userconfig and cache (never the user's ~/.npmrc). */
export function npm(args: string[], opts: { cwd: string; userconfig: string; cache: string }): Promise<NpmResult> {
  return new Promise((resolve) => {
    execFile(
      "npm",
      [...args, "--userconfig", opts.userconfig, "--cache", opts.cache, "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel", "warn"],
      { cwd: opts.cwd, env: { ...process.env, npm_config_globalconfig: path.join(opts.cwd, ".no-global-npmrc") }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function writePackage(dir: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  for (const [f, c] of Object.entries({ "index.js": `module.exports = ${JSON.stringify(String(pkg.name) + "@" + String(pkg.version))};\n`, ...files }))
    writeFileSync(path.join(dir, f), c);
  return dir;
}

const ok = (r: NpmResult, what: string) => assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);

describe("npm client through an npm group (hosted + Verdaccio-backed proxy)", () => {
  let s: TestServer;
  let verdaccio: Verdaccio;
  let tmp: string;
  let userconfig: string;
  let cache: string;
  let group: string;
  let auth: Record<string, string>;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-npm-client-"));
    verdaccio = await startVerdaccio(path.join(tmp, "verdaccio"));
    // Seed the upstream with a dependency, using the npm client against Verdaccio.
    const vrc = path.join(tmp, "verdaccio.npmrc");
    const vhost = verdaccio.url.replace(/^http:/, "");
    writeFileSync(vrc, `registry=${verdaccio.url}/\n${vhost}/:_authToken=${verdaccio.token}\n`);
    const seed = writePackage(path.join(tmp, "upstream-lib"), { name: "upstream-lib", version: "1.0.0", description: "from verdaccio" });
    ok(await npm(["publish"], { cwd: seed, userconfig: vrc, cache: path.join(tmp, "vcache") }), "seed publish to verdaccio");

    s = await startServer();
    const put = async (name: string, repo: unknown) => {
      const res = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
      assert.ok(res.status === 200 || res.status === 201, `create ${name}: ${res.status} ${res.text}`);
    };
    await put("npm-local", { type: "npm", storage: "default" });
    await put("npm-remote", { type: "npm-proxy", storage: "default", remotes: [{ url: verdaccio.url }] });
    await put("npm-all", { type: "npm-group", storage: "default", members: ["npm-local", "npm-remote"] });
    await userWithPermissions(
      s,
      "dev",
      { "npm-all": ["read", "write", "delete"], "npm-local": ["read", "write", "delete"], "npm-remote": ["read"] },
      "dev-password",
    );

    group = `${s.repoUrl}/npm-all`;
    // npm adduser / login (couch protocol) with a Pantera user gives a Pantera API token.
    const login = await fetch(`${group}/-/user/org.couchdb.user:dev`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "dev", password: "dev-password", type: "user" }),
    });
    assert.equal(login.status, 201);
    const { token } = (await login.json()) as { token: string };
    assert.ok(token);
    auth = { authorization: `Bearer ${token}` };
    userconfig = path.join(tmp, "npmrc");
    cache = path.join(tmp, "cache");
    writeFileSync(userconfig, `registry=${group}/\n${group.replace(/^http:/, "")}/:_authToken=${token}\n`);
  });

  after(async () => {
    await s?.close();
    await verdaccio?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("npm login (legacy auth) with a Pantera user stores a working token", async () => {
    const rc = path.join(tmp, "login.npmrc");
    writeFileSync(rc, `registry=${group}/\n`);
    const child = spawn("npm", ["login", "--auth-type=legacy", "--userconfig", rc, "--cache", cache, "--registry", `${group}/`], {
      cwd: tmp,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (/Username:\s*$/.test(out)) child.stdin.write("dev\n");
      if (/Password:\s*$/.test(out)) child.stdin.write("dev-password\n");
    });
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 0, out);
    assert.match(readFileSync(rc, "utf8"), /:_authToken=ey/);
    const who = await npm(["whoami"], { cwd: tmp, userconfig: rc, cache });
    ok(who, "npm whoami after login");
    assert.equal(who.stdout.trim(), "dev");
  });

  it("rejects a wrong password on login and answers whoami for the token", async () => {
    const bad = await fetch(`${group}/-/user/org.couchdb.user:dev`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "dev", password: "nope" }),
    });
    assert.equal(bad.status, 401);
    const who = await npm(["whoami"], { cwd: tmp, userconfig, cache });
    ok(who, "npm whoami");
    assert.equal(who.stdout.trim(), "dev");
    const anon = await fetch(`${group}/-/whoami`);
    assert.equal(anon.status, 401);
  });

  it("publishes scoped and unscoped packages with dist-tags and installs them with a proxied dependency", async () => {
    const app = writePackage(path.join(tmp, "app"), {
      name: "@acme/app",
      version: "1.0.0",
      description: "acme app",
      keywords: ["acme"],
      dependencies: { "upstream-lib": "^1.0.0", "local-util": "^1.0.0" },
    });
    const util = writePackage(path.join(tmp, "util"), { name: "local-util", version: "1.0.0", description: "a local utility" });
    ok(await npm(["publish"], { cwd: util, userconfig, cache }), "publish local-util");
    ok(await npm(["publish"], { cwd: app, userconfig, cache }), "publish @acme/app");
    writePackage(app, { name: "@acme/app", version: "2.0.0-beta.1", dependencies: { "upstream-lib": "^1.0.0", "local-util": "^1.0.0" } });
    ok(await npm(["publish", "--tag", "beta"], { cwd: app, userconfig, cache }), "publish @acme/app beta");
    // Republishing a version is refused.
    assert.notEqual((await npm(["publish", "--tag", "beta"], { cwd: app, userconfig, cache })).code, 0);

    const view = await npm(["view", "@acme/app", "--json"], { cwd: tmp, userconfig, cache });
    ok(view, "npm view");
    const info = JSON.parse(view.stdout);
    assert.deepEqual(info["dist-tags"], { latest: "1.0.0", beta: "2.0.0-beta.1" });
    assert.deepEqual(info.versions, ["1.0.0", "2.0.0-beta.1"]);
    assert.equal(info.dist.tarball, `${group}/@acme/app/-/app-1.0.0.tgz`);

    // Install through the group: hosted packages plus upstream-lib fetched from Verdaccio.
    const proj = writePackage(path.join(tmp, "consumer"), { name: "consumer", version: "0.0.0", private: true });
    ok(await npm(["install", "@acme/app"], { cwd: proj, userconfig, cache }), "npm install");
    assert.equal(readFileSync(path.join(proj, "node_modules/@acme/app/index.js"), "utf8"), 'module.exports = "@acme/app@1.0.0";\n');
    assert.equal(readFileSync(path.join(proj, "node_modules/upstream-lib/index.js"), "utf8"), 'module.exports = "upstream-lib@1.0.0";\n');
    assert.ok(existsSync(path.join(proj, "node_modules/local-util/package.json")));

    // The proxy cached the upstream tarball and indexed it with the upstream release date.
    assert.ok(
      await (await s.services.storages.forRepository((await s.services.repositories.find("npm-remote"))!)).exists("upstream-lib/-/upstream-lib-1.0.0.tgz"),
    );
    const rows = await s.services.db.prisma.artifact.findMany({ where: { name: { in: ["upstream-lib", "@acme/app"] } }, orderBy: { path: "asc" } });
    const remote = rows.find((r) => r.repoName === "npm-remote");
    assert.ok(remote, "proxied tarball is indexed");
    assert.equal(remote.version, "1.0.0");
    assert.ok(remote.releasedAt, "upstream release date recorded");
    const local = rows.find((r) => r.path === "@acme/app/-/app-1.0.0.tgz");
    assert.ok(local, "published tarball is indexed");
    assert.equal(local.repoName, "npm-local");
    assert.equal(local.owner, "dev");
    assert.ok(Number(local.size) > 0);
    assert.match(String((local.checksums as Record<string, string>).sha1), /^[0-9a-f]{40}$/);
  });

  it("serves abbreviated packuments and merges group members", async () => {
    const res = await fetch(`${group}/upstream-lib`, {
      headers: { ...auth, accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/vnd\.npm\.install-v1\+json/);
    const doc = (await res.json()) as any;
    assert.equal(doc.versions["1.0.0"].dist.tarball, `${group}/upstream-lib/-/upstream-lib-1.0.0.tgz`);
    assert.equal(doc.versions["1.0.0"].description, undefined, "abbreviated documents omit descriptions");
    const full = (await (await fetch(`${s.repoUrl}/npm-remote/upstream-lib`, { headers: auth })).json()) as any;
    assert.equal(full.versions["1.0.0"].dist.tarball, `${s.repoUrl}/npm-remote/upstream-lib/-/upstream-lib-1.0.0.tgz`);
    assert.ok(full.time["1.0.0"]);
    const missing = await fetch(`${group}/no-such-package`, { headers: auth });
    assert.equal(missing.status, 404);
    const bad = await fetch(`${group}/Bad%20Name`, { headers: auth });
    assert.equal(bad.status, 400);
  });

  it("manages dist-tags, deprecations, search and unpublish", async () => {
    ok(await npm(["dist-tag", "add", "@acme/app@2.0.0-beta.1", "next"], { cwd: tmp, userconfig, cache }), "dist-tag add");
    let ls = await npm(["dist-tag", "ls", "@acme/app"], { cwd: tmp, userconfig, cache });
    ok(ls, "dist-tag ls");
    assert.match(ls.stdout, /next: 2\.0\.0-beta\.1/);
    ok(await npm(["dist-tag", "rm", "@acme/app", "next"], { cwd: tmp, userconfig, cache }), "dist-tag rm");
    ls = await npm(["dist-tag", "ls", "@acme/app"], { cwd: tmp, userconfig, cache });
    assert.doesNotMatch(ls.stdout, /next:/);

    ok(await npm(["deprecate", "local-util@1.0.0", "use something else"], { cwd: tmp, userconfig, cache }), "deprecate");
    const dep = await npm(["view", "local-util", "deprecated"], { cwd: tmp, userconfig, cache: cache + "-2" });
    assert.equal(dep.stdout.trim(), "use something else");

    const found = await npm(["search", "--json", "acme"], { cwd: tmp, userconfig, cache });
    ok(found, "npm search");
    assert.deepEqual(
      JSON.parse(found.stdout).map((p: { name: string }) => p.name),
      ["@acme/app"],
    );

    ok(await npm(["unpublish", "@acme/app@2.0.0-beta.1"], { cwd: tmp, userconfig, cache }), "unpublish version");
    const after1 = (await (await fetch(`${s.repoUrl}/npm-local/@acme%2fapp`, { headers: auth })).json()) as any;
    assert.deepEqual(Object.keys(after1.versions), ["1.0.0"]);
    assert.equal(after1["dist-tags"].beta, undefined);
    assert.equal((await fetch(`${s.repoUrl}/npm-local/@acme/app/-/app-2.0.0-beta.1.tgz`, { headers: auth })).status, 404);
    ok(await npm(["unpublish", "local-util", "--force"], { cwd: tmp, userconfig, cache }), "unpublish package");
    assert.equal((await fetch(`${s.repoUrl}/npm-local/local-util`, { headers: auth })).status, 404);
  });

  it("keeps serving cached packuments and tarballs when the upstream is down", async () => {
    await verdaccio.stop();
    const proj = writePackage(path.join(tmp, "offline"), { name: "offline", version: "0.0.0", private: true });
    ok(await npm(["install", "upstream-lib@1.0.0"], { cwd: proj, userconfig, cache: path.join(tmp, "cache-offline") }), "install from cache");
    assert.ok(existsSync(path.join(proj, "node_modules/upstream-lib/index.js")));
    // A package never fetched: the upstream error surfaces as 502 through the proxy.
    const res = await fetch(`${s.repoUrl}/npm-remote/never-fetched`, { headers: auth });
    assert.equal(res.status, 502);
  });
});

describe("npm proxy behaviour against a scripted upstream", () => {
  let s: TestServer;
  let upstream: import("node:http").Server;
  let base: string;
  let auth: Record<string, string>;
  const hits = new Map<string, number>();
  let failing = false;
  const tgz = Buffer.from("pretend this is a gzip tarball");

  before(async () => {
    const http = await import("node:http");
    upstream = http.createServer((req, res) => {
      const url = req.url ?? "";
      hits.set(url, (hits.get(url) ?? 0) + 1);
      if (req.headers.authorization !== "Basic " + Buffer.from("up:secret").toString("base64")) {
        res.writeHead(401).end();
        return;
      }
      if (failing) {
        res.writeHead(500).end("boom");
        return;
      }
      if (url === "/counted") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            name: "counted",
            "dist-tags": { latest: "1.0.0" },
            versions: { "1.0.0": { name: "counted", version: "1.0.0", dist: { tarball: `${base}/counted/-/counted-1.0.0.tgz` } } },
            time: { "1.0.0": "2020-02-02T00:00:00.000Z" },
          }),
        );
      } else if (url === "/counted/-/counted-1.0.0.tgz") {
        setTimeout(() => res.writeHead(200, { "content-type": "application/octet-stream" }).end(tgz), 300);
      } else if (url === "/slow") {
        setTimeout(() => res.writeHead(200).end("{}"), 3000);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    s = await startServer();
    const res = await s.api("PUT", "/repositories/npm-scripted", {
      token: s.adminToken,
      body: { repo: { type: "npm-proxy", storage: "default", metadata_ttl: 0, remotes: [{ url: base, username: "up", password: "secret", timeout: 1000 }] } },
    });
    assert.ok(res.status < 300, res.text);
    auth = { authorization: `Bearer ${s.adminToken}` };
  });

  after(async () => {
    await s?.close();
    await new Promise((r) => upstream?.close(r));
  });

  it("makes one upstream fetch for concurrent requests of a missing tarball, with the remote's credentials", async () => {
    const url = `${s.repoUrl}/npm-scripted/counted/-/counted-1.0.0.tgz`;
    const bodies = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const r = await fetch(url, { headers: auth });
        assert.equal(r.status, 200);
        return Buffer.from(await r.arrayBuffer());
      }),
    );
    for (const b of bodies) assert.ok(b.equals(tgz));
    assert.equal(hits.get("/counted/-/counted-1.0.0.tgz"), 1);
    const row = await s.services.db.prisma.artifact.findFirst({ where: { repoName: "npm-scripted", path: "counted/-/counted-1.0.0.tgz" } });
    assert.equal(row?.releasedAt?.toISOString(), "2020-02-02T00:00:00.000Z");
  });

  it("remembers misses, maps upstream failures to 502/504 and serves stale metadata when the upstream fails", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${s.repoUrl}/npm-scripted/nothing`, { headers: auth })).status, 404);
    assert.equal(hits.get("/nothing"), 1);
    const slow = await fetch(`${s.repoUrl}/npm-scripted/slow`, { headers: auth });
    assert.equal(slow.status, 504);
    assert.equal(((await slow.json()) as any).error, "GATEWAY_TIMEOUT");
    assert.equal((await fetch(`${s.repoUrl}/npm-scripted/counted`, { headers: auth })).status, 200);
    failing = true;
    try {
      const stale = await fetch(`${s.repoUrl}/npm-scripted/counted`, { headers: auth });
      assert.equal(stale.status, 200);
      assert.equal(((await stale.json()) as any).versions["1.0.0"].dist.tarball, `${s.repoUrl}/npm-scripted/counted/-/counted-1.0.0.tgz`);
      const bad = await fetch(`${s.repoUrl}/npm-scripted/other-pkg`, { headers: auth });
      assert.equal(bad.status, 502);
      assert.equal(((await bad.json()) as any).error, "BAD_GATEWAY");
    } finally {
      failing = false;
    }
  });
});
