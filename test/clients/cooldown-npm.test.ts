// Cooldown with the real npm client: an npm-proxy whose upstream is a Verdaccio started here.
// 1.0.0 was published long ago (its `time` entry is back-dated in Verdaccio's storage), 2.0.0 a
// few seconds ago. `npm install` gets 1.0.0, `npm install pkg@2.0.0` fails with the cooldown
// notice, a direct tarball fetch answers 403, and an unblock makes 2.0.0 installable at once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startVerdaccio, type Verdaccio } from "../../bench/verdaccio.js";
import { startServer, type TestServer } from "../helpers/server.js";

const PKG = "cooldown-demo";
const DAY = 86_400_000;

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env } });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

describe("cooldown with the npm client (npm-proxy over Verdaccio)", () => {
  let s: TestServer;
  let vd: Verdaccio;
  let work: string;
  let rc: string;
  let proxyUrl: string;

  const npmInstall = async (spec: string) => {
    const project = mkdtempSync(path.join(work, "project-"));
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", version: "0.0.0", private: true }));
    // a fresh npm cache each time, so every install asks the registry
    const res = await run(
      "npm",
      [
        "install",
        spec,
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
        "--loglevel",
        "notice",
        "--cache",
        mkdtempSync(path.join(work, "cache-")),
        "--userconfig",
        rc,
      ],
      project,
    );
    let installed: string | null = null;
    try {
      installed = JSON.parse(readFileSync(path.join(project, "node_modules", PKG, "package.json"), "utf8")).version;
    } catch {
      installed = null;
    }
    return { ...res, installed };
  };

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pantera-cooldown-npm-"));
    vd = await startVerdaccio(path.join(work, "verdaccio"));
    // publish 1.0.0 and 2.0.0 with the npm client
    const login = await fetch(`${vd.url}/-/user/org.couchdb.user:publisher`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "publisher", password: "publisher-pass" }),
    });
    assert.equal(login.status, 201, await login.clone().text());
    const { token } = (await login.json()) as { token: string };
    const vdRc = path.join(work, "verdaccio.npmrc");
    writeFileSync(vdRc, `registry=${vd.url}/\n//${new URL(vd.url).host}/:_authToken=${token}\n`);
    for (const version of ["1.0.0", "2.0.0"]) {
      const dir = path.join(work, `pkg-${version}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: PKG, version, main: "index.js" }));
      writeFileSync(path.join(dir, "index.js"), `module.exports = ${JSON.stringify(version)};\n`);
      const pub = await run("npm", ["publish", "--userconfig", vdRc, "--registry", `${vd.url}/`], dir);
      assert.equal(pub.code, 0, pub.out);
    }
    // back-date 1.0.0 by 30 days in Verdaccio's storage
    const meta = path.join(work, "verdaccio", "storage", PKG, "package.json");
    const doc = JSON.parse(readFileSync(meta, "utf8"));
    const old = new Date(Date.now() - 30 * DAY).toISOString();
    doc.time["1.0.0"] = old;
    doc.time.created = old;
    writeFileSync(meta, JSON.stringify(doc));
    const check = (await (await fetch(`${vd.url}/${PKG}`)).json()) as { time: Record<string, string> };
    assert.equal(check.time["1.0.0"], old, "Verdaccio serves the back-dated time");

    s = await startServer();
    const put = await s.api("PUT", "/repositories/npm-proxy", {
      token: s.adminToken,
      body: { repo: { type: "npm-proxy", storage: "default", remotes: [{ url: vd.url }] } },
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    const cfg = await s.api("PUT", "/cooldown/config", { token: s.adminToken, body: { enabled: true, minimum_allowed_age: "7d" } });
    assert.equal(cfg.status, 200, cfg.text);
    proxyUrl = `${s.repoUrl}/npm-proxy/`;
    rc = path.join(work, "pantera.npmrc");
    writeFileSync(rc, `registry=${proxyUrl}\n//${new URL(s.repoUrl).host}/npm-proxy/:_authToken=${s.adminToken}\n`);
  });

  after(async () => {
    await s?.close();
    await vd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("npm install gets the newest version older than the minimum age", async () => {
    const res = await npmInstall(PKG);
    assert.equal(res.code, 0, res.out);
    assert.equal(res.installed, "1.0.0");
    // the packument clients see: 2.0.0 gone, latest remapped
    const p = await s.repo("GET", `/npm-proxy/${PKG}`, { token: s.adminToken });
    assert.equal(p.status, 200);
    assert.deepEqual(Object.keys(p.body.versions), ["1.0.0"]);
    assert.equal(p.body["dist-tags"].latest, "1.0.0");
    assert.match(p.headers.get("npm-notice") ?? "", /Cooldown: cooldown-demo 2\.0\.0/);
  });

  it("npm install pkg@new fails with the cooldown message; the block is recorded", async () => {
    const res = await npmInstall(`${PKG}@2.0.0`);
    assert.notEqual(res.code, 0, res.out);
    assert.match(res.out, /npm notice Cooldown: cooldown-demo 2\.0\.0 \(until [^)]+\) is younger than the minimum allowed age/);
    assert.match(res.out, /No matching version found for cooldown-demo@2\.0\.0/);
    assert.equal(res.installed, null);
    const blocked = await s.api("GET", `/cooldown/blocked?search=${PKG}`, { token: s.adminToken });
    assert.equal(blocked.body.total, 1);
    const b = blocked.body.items[0];
    assert.equal(b.package_name, PKG);
    assert.equal(b.version, "2.0.0");
    assert.equal(b.repo, "npm-proxy");
    assert.equal(b.repo_type, "npm-proxy");
    assert.equal(b.reason, "TOO_YOUNG");
    assert.ok(b.remaining_hours >= 167 && b.remaining_hours <= 168, String(b.remaining_hours));
    // a direct fetch of the tarball is refused with the message
    const tgz = await s.repo("GET", `/npm-proxy/${PKG}/-/${PKG}-2.0.0.tgz`, { token: s.adminToken });
    assert.equal(tgz.status, 403);
    assert.match(tgz.body.message, /Cooldown: cooldown-demo@2\.0\.0 was released .* minimum allowed age of 7d/);
    const overview = await s.api("GET", "/cooldown/overview", { token: s.adminToken });
    assert.deepEqual(overview.body.repos, [{ name: "npm-proxy", type: "npm-proxy", cooldown: "7d", active_blocks: 1 }]);
  });

  it("unblocking makes the version installable at once", async () => {
    const res = await s.api("POST", "/repositories/npm-proxy/cooldown/unblock", { token: s.adminToken, body: { artifact: PKG, version: "2.0.0" } });
    assert.equal(res.status, 204, res.text);
    const pinned = await npmInstall(`${PKG}@2.0.0`);
    assert.equal(pinned.code, 0, pinned.out);
    assert.equal(pinned.installed, "2.0.0");
    const latest = await npmInstall(PKG);
    assert.equal(latest.installed, "2.0.0", "latest is back on 2.0.0");
    assert.equal((await s.api("GET", "/cooldown/blocked", { token: s.adminToken })).body.total, 0);
  });
});
