// twine upload + pip install through a pypi group of a hosted repository and a pypi-proxy whose
// upstream is another (credential-protected) hosted PyPI repository on the same node.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, userWithPermissions, type TestServer } from "../helpers/server.js";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, timeout: 120_000, env: { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);

// Builds a pure-Python wheel and sdist with the standard library only (no network, no build backend).
const BUILD = String.raw`
import sys, os, io, zipfile, tarfile, hashlib, base64
name, version, out, requires_python, deps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
dist = name.replace("-", "_")
mod = dist.lower()
meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: test package %s\n" % (name, version, name)
if requires_python: meta += "Requires-Python: %s\n" % requires_python
for d in deps: meta += "Requires-Dist: %s\n" % d
files = {
  "%s/__init__.py" % mod: "VERSION = %r\n" % version,
  "%s-%s.dist-info/METADATA" % (dist, version): meta,
  "%s-%s.dist-info/WHEEL" % (dist, version): "Wheel-Version: 1.0\nGenerator: pantera-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for p, c in files.items():
  h = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
  record.append("%s,sha256=%s,%d" % (p, h, len(c.encode())))
record.append("%s-%s.dist-info/RECORD,," % (dist, version))
files["%s-%s.dist-info/RECORD" % (dist, version)] = "\n".join(record) + "\n"
whl = os.path.join(out, "%s-%s-py3-none-any.whl" % (dist, version))
with zipfile.ZipFile(whl, "w") as z:
  for p, c in files.items(): z.writestr(p, c)
sdist = os.path.join(out, "%s-%s.tar.gz" % (dist.lower(), version))
with tarfile.open(sdist, "w:gz") as t:
  for p, c in {"%s-%s/PKG-INFO" % (dist.lower(), version): meta, "%s-%s/%s/__init__.py" % (dist.lower(), version, mod): files["%s/__init__.py" % mod]}.items():
    data = c.encode(); info = tarfile.TarInfo(p); info.size = len(data); t.addfile(info, io.BytesIO(data))
print(whl); print(sdist)
`;

async function build(out: string, name: string, version: string, requiresPython: string, deps: string[] = []): Promise<{ wheel: string; sdist: string }> {
  mkdirSync(out, { recursive: true });
  const r = await run("python3", ["-c", BUILD, name, version, out, requiresPython, ...deps], out);
  ok(r, "build distributions");
  const [wheel, sdist] = r.stdout.trim().split("\n");
  return { wheel, sdist };
}

describe("twine and pip through a pypi group (hosted + proxy of another hosted repo)", () => {
  let s: TestServer;
  let tmp: string;
  let index: string;
  let auth: Record<string, string>;
  let app: { wheel: string; sdist: string };

  const twine = (repo: string, files: string[], user = "dev", pass = "dev-password") =>
    run("twine", ["upload", "--non-interactive", "--disable-progress-bar", "--repository-url", `${s.repoUrl}/${repo}/`, "-u", user, "-p", pass, ...files], tmp);

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-pypi-client-"));
    s = await startServer();
    const put = async (name: string, repo: unknown) => {
      const res = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
      assert.ok(res.status === 200 || res.status === 201, `create ${name}: ${res.status} ${res.text}`);
    };
    await userWithPermissions(s, "mirror", { "pypi-up": ["read"] }, "mirror-password");
    await userWithPermissions(s, "dev", { "pypi-local": ["read", "write"], "pypi-up": ["read", "write"], "pypi-all": ["read"] }, "dev-password");
    await put("pypi-local", { type: "pypi", storage: "default" });
    await put("pypi-up", { type: "pypi", storage: "default" });
    await put("pypi-remote", {
      type: "pypi-proxy",
      storage: "default",
      remotes: [{ url: `${s.repoUrl}/pypi-up`, username: "mirror", password: "mirror-password" }],
    });
    await put("pypi-all", { type: "pypi-group", storage: "default", members: ["pypi-local", "pypi-remote"] });
    index = `http://dev:dev-password@${s.repoUrl.replace(/^http:\/\//, "")}/pypi-all/simple/`;
    auth = { authorization: "Basic " + Buffer.from("dev:dev-password").toString("base64") };
    const lib = await build(path.join(tmp, "dist-lib"), "Acme_Lib", "1.2.0", ">=3.8");
    ok(await twine("pypi-up", [lib.wheel]), "twine upload to the upstream repo");
    app = await build(path.join(tmp, "dist-app"), "acme-app", "0.1.0", ">=3.7, <4", ["acme-lib>=1.0"]);
  });

  after(async () => {
    await s?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("uploads with twine and refuses duplicates and unauthorised uploads", async () => {
    ok(await twine("pypi-local", [app.wheel, app.sdist]), "twine upload");
    const dup = await twine("pypi-local", [app.wheel]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stdout + dup.stderr, /409|already exists/i);
    const denied = await twine("pypi-local", [app.wheel], "mirror", "mirror-password");
    assert.notEqual(denied.code, 0);
    assert.match(denied.stdout + denied.stderr, /403/);
  });

  it("installs with pip through the group, dependency coming through the proxy", async () => {
    const target = path.join(tmp, "site");
    const r = await run("python3", ["-m", "pip", "install", "--no-cache-dir", "--index-url", index, "--target", target, "acme-app"], tmp);
    ok(r, "pip install");
    assert.equal(readFileSync(path.join(target, "acme_app/__init__.py"), "utf8"), "VERSION = '0.1.0'\n");
    assert.equal(readFileSync(path.join(target, "acme_lib/__init__.py"), "utf8"), "VERSION = '1.2.0'\n");
    // The proxy cached the file and indexed it with the upstream upload-time.
    const remote = await s.services.db.prisma.artifact.findFirst({ where: { repoName: "pypi-remote" } });
    assert.ok(remote, "proxied file is indexed");
    assert.equal(remote.path, "packages/acme-lib/1.2.0/Acme_Lib-1.2.0-py3-none-any.whl");
    const upstream = await s.services.db.prisma.artifact.findFirst({ where: { repoName: "pypi-up" } });
    assert.ok(upstream && remote.releasedAt && upstream.releasedAt);
    assert.equal(remote.releasedAt.toISOString(), upstream.releasedAt.toISOString());
    const local = await s.services.db.prisma.artifact.findMany({ where: { repoName: "pypi-local" }, orderBy: { path: "asc" } });
    assert.deepEqual(
      local.map((a) => [a.path, a.name, a.version, a.owner]),
      [
        ["packages/acme-app/0.1.0/acme_app-0.1.0-py3-none-any.whl", "acme-app", "0.1.0", "dev"],
        ["packages/acme-app/0.1.0/acme_app-0.1.0.tar.gz", "acme-app", "0.1.0", "dev"],
      ],
    );
    {
      const dl = path.join(tmp, "dl");
      ok(
        await run("python3", ["-m", "pip", "download", "--no-cache-dir", "--no-deps", "--index-url", index, "-d", dl, "acme-lib==1.2.0"], tmp),
        "pip download",
      );
      assert.ok(existsSync(path.join(dl, "Acme_Lib-1.2.0-py3-none-any.whl")));
    }
  });

  it("serves PEP 691 JSON and PEP 503 HTML with hashes, requires-python and upload-time", async () => {
    let res = await fetch(`${s.repoUrl}/pypi-all/simple/acme-app/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.pypi.simple.v1+json");
    const doc = (await res.json()) as any;
    assert.equal(doc.name, "acme-app");
    assert.deepEqual(doc.versions, ["0.1.0"]);
    const sdist = doc.files.find((f: any) => f.filename === "acme_app-0.1.0.tar.gz");
    assert.equal(sdist.hashes.sha256, createHash("sha256").update(readFileSync(app.sdist)).digest("hex"));
    assert.equal(sdist["requires-python"], ">=3.7, <4");
    assert.ok(!Number.isNaN(Date.parse(sdist["upload-time"])));
    assert.equal(sdist.url, `${s.repoUrl}/pypi-all/packages/acme-app/0.1.0/acme_app-0.1.0.tar.gz`);
    const file = await fetch(sdist.url, { headers: auth });
    assert.equal(file.status, 200);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), readFileSync(app.sdist));

    res = await fetch(`${s.repoUrl}/pypi-all/simple/acme-lib/`, { headers: { ...auth, accept: "text/html" } });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(
      html,
      /<a href="[^"]+\/pypi-all\/packages\/acme-lib\/1\.2\.0\/Acme_Lib-1\.2\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}" data-requires-python="&gt;=3\.8">Acme_Lib-1\.2\.0-py3-none-any\.whl<\/a>/,
    );

    // Name normalisation: non-normalised names redirect to the canonical page.
    res = await fetch(`${s.repoUrl}/pypi-all/simple/Acme_Lib/`, { headers: auth, redirect: "manual" });
    assert.equal(res.status, 301);
    assert.equal(res.headers.get("location"), `${s.repoUrl}/pypi-all/simple/acme-lib/`);

    res = await fetch(`${s.repoUrl}/pypi-all/simple/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } });
    assert.deepEqual(
      ((await res.json()) as any).projects.map((p: any) => p.name),
      ["acme-app", "acme-lib"],
    );
    res = await fetch(`${s.repoUrl}/pypi-all/simple/nothing-here/`, { headers: auth });
    assert.equal(res.status, 404);
    res = await fetch(`${s.repoUrl}/pypi-all/simple/acme-app/`);
    assert.equal(res.status, 401);
  });

  it("rejects a corrupt upload without leaving anything visible", async () => {
    const form = new FormData();
    form.set(":action", "file_upload");
    form.set("name", "broken");
    form.set("version", "1.0");
    form.set("sha256_digest", "0".repeat(64));
    form.set("content", new Blob([Buffer.from("not the declared bytes")]), "broken-1.0.tar.gz");
    const res = await fetch(`${s.repoUrl}/pypi-local/`, { method: "POST", headers: auth, body: form });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.equal(body.error, "BAD_REQUEST");
    assert.equal((await fetch(`${s.repoUrl}/pypi-local/simple/broken/`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${s.repoUrl}/pypi-local/packages/broken/1.0/broken-1.0.tar.gz`, { headers: auth })).status, 404);
    const bad = await fetch(`${s.repoUrl}/pypi-local/`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}" });
    assert.equal(bad.status, 400);
  });

  it("leaves nothing visible when the client drops the connection mid-upload", async () => {
    const http = await import("node:http");
    const boundary = "----pantera-test-boundary";
    const head = Buffer.from(
      [
        `--${boundary}`,
        'Content-Disposition: form-data; name=":action"',
        "",
        "file_upload",
        `--${boundary}`,
        'Content-Disposition: form-data; name="name"',
        "",
        "halfway",
        `--${boundary}`,
        'Content-Disposition: form-data; name="version"',
        "",
        "1.0",
        `--${boundary}`,
        'Content-Disposition: form-data; name="content"; filename="halfway-1.0.tar.gz"',
        "Content-Type: application/octet-stream",
        "",
        "",
      ].join("\r\n"),
    );
    const url = new URL(`${s.repoUrl}/pypi-local/`);
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { ...auth, "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(head.length + 1_000_000) },
      });
      req.on("error", () => resolve());
      req.on("response", (res) => {
        res.resume();
        resolve();
      });
      req.write(head);
      req.write(Buffer.alloc(200_000, 7), () => setTimeout(() => req.destroy(), 200));
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${s.repoUrl}/pypi-local/packages/halfway/1.0/halfway-1.0.tar.gz`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${s.repoUrl}/pypi-local/simple/halfway/`, { headers: auth })).status, 404);
    const storage = await s.services.storages.forRepository((await s.services.repositories.find("pypi-local"))!);
    assert.deepEqual(await storage.list("packages/halfway/"), []);
  });

  it("drops a file deleted through the management API from the project page", async () => {
    const del = await s.api("DELETE", "/repositories/pypi-local/artifacts", {
      token: s.adminToken,
      body: { path: "packages/acme-app/0.1.0/acme_app-0.1.0.tar.gz" },
    });
    assert.equal(del.status, 204, del.text);
    const doc = (await (
      await fetch(`${s.repoUrl}/pypi-local/simple/acme-app/`, { headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" } })
    ).json()) as any;
    assert.deepEqual(
      doc.files.map((f: any) => f.filename),
      ["acme_app-0.1.0-py3-none-any.whl"],
    );
    assert.equal(await s.services.db.prisma.artifact.count({ where: { repoName: "pypi-local", path: "packages/acme-app/0.1.0/acme_app-0.1.0.tar.gz" } }), 0);
  });
});
