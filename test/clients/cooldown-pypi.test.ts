// Cooldown with the real pip client: a pypi-proxy whose upstream is a PEP 691 index started here
// (PEP 700 upload-time per file). 1.0.0 was uploaded 30 days ago, 2.0.0 seconds ago.
// `pip install` gets 1.0.0, `pip install pkg==2.0.0` fails (2.0.0 is not in the index pip sees),
// a direct file fetch answers 403 with the cooldown message, and an unblock makes 2.0.0
// installable at once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ADMIN_PASSWORD, listenLocal, startServer, type TestServer } from "../helpers/server.js";

const PROJECT = "cooldown-demo";
const DAY = 86_400_000;

function havePip(): boolean {
  try {
    execFileSync("python3", ["-m", "pip", "--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, PIP_CONFIG_FILE: "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1" } });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

/** Builds a minimal pure-Python wheel with python's zipfile. */
function buildWheel(dir: string, version: string): string {
  const file = path.join(dir, `cooldown_demo-${version}-py3-none-any.whl`);
  const script = `
import sys, zipfile
path, version = sys.argv[1], sys.argv[2]
di = f"cooldown_demo-{version}.dist-info"
files = {
  "cooldown_demo/__init__.py": f"VERSION = {version!r}\\n",
  f"{di}/METADATA": f"Metadata-Version: 2.1\\nName: cooldown-demo\\nVersion: {version}\\n",
  f"{di}/WHEEL": "Wheel-Version: 1.0\\nGenerator: pantera-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
with zipfile.ZipFile(path, "w") as z:
  for name, text in files.items():
    z.writestr(name, text)
  z.writestr(f"{di}/RECORD", "".join(f"{n},,\\n" for n in list(files) + [f"{di}/RECORD"]))
`;
  execFileSync("python3", ["-c", script, file, version]);
  return file;
}

/** A PEP 691 simple index serving the wheels with their upload times. */
function upstreamIndex(wheels: { file: string; uploadTime: string }[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const base = `http://${req.headers.host}`;
    if (url.pathname === `/simple/${PROJECT}/`) {
      const files = wheels.map((w) => {
        const data = readFileSync(w.file);
        return {
          filename: path.basename(w.file),
          url: `${base}/files/${path.basename(w.file)}`,
          hashes: { sha256: createHash("sha256").update(data).digest("hex") },
          "upload-time": w.uploadTime,
          size: data.length,
        };
      });
      res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
      res.end(JSON.stringify({ meta: { "api-version": "1.1" }, name: PROJECT, files, versions: ["1.0.0", "2.0.0"] }));
      return;
    }
    const w = wheels.find((x) => url.pathname === `/files/${path.basename(x.file)}`);
    if (w) {
      const data = readFileSync(w.file);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
      res.end(data);
      return;
    }
    res.writeHead(404).end();
  });
  return listenLocal(server);
}

describe("cooldown with the pip client (pypi-proxy over a PEP 691 index)", { skip: !havePip() && "python3 -m pip is not available" }, () => {
  let s: TestServer;
  let upstream: Awaited<ReturnType<typeof upstreamIndex>>;
  let work: string;
  let index: string;

  const pipInstall = async (spec: string) => {
    const target = mkdtempSync(path.join(work, "target-"));
    const res = await run("python3", ["-m", "pip", "install", "--no-cache-dir", "--index-url", index, "--target", target, spec], work);
    const init = path.join(target, "cooldown_demo", "__init__.py");
    const installed = existsSync(init) ? (/VERSION = '([^']+)'/.exec(readFileSync(init, "utf8"))?.[1] ?? null) : null;
    return { ...res, installed, dists: existsSync(target) ? readdirSync(target).filter((d) => d.endsWith(".dist-info")) : [] };
  };

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pantera-cooldown-pypi-"));
    upstream = await upstreamIndex([
      { file: buildWheel(work, "1.0.0"), uploadTime: new Date(Date.now() - 30 * DAY).toISOString() },
      { file: buildWheel(work, "2.0.0"), uploadTime: new Date(Date.now() - 5_000).toISOString() },
    ]);
    s = await startServer();
    const put = await s.api("PUT", "/repositories/pypi-proxy", {
      token: s.adminToken,
      body: { repo: { type: "pypi-proxy", storage: "default", remotes: [{ url: `${upstream.url}/simple` }] } },
    });
    assert.ok(put.status === 200 || put.status === 201, put.text);
    const cfg = await s.api("PUT", "/cooldown/config", {
      token: s.adminToken,
      body: { enabled: true, minimum_allowed_age: "30d", repo_types: { "pypi-proxy": { minimum_allowed_age: "7d" } } },
    });
    assert.equal(cfg.status, 200, cfg.text);
    const u = new URL(s.repoUrl);
    index = `http://admin:${encodeURIComponent(ADMIN_PASSWORD)}@${u.host}/pypi-proxy/simple/`;
  });

  after(async () => {
    await s?.close();
    await upstream?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("pip install gets the newest version older than the minimum age", async () => {
    const res = await pipInstall(PROJECT);
    assert.equal(res.code, 0, res.out);
    assert.equal(res.installed, "1.0.0");
    assert.deepEqual(res.dists, ["cooldown_demo-1.0.0.dist-info"]);
    const page = await s.repo("GET", `/pypi-proxy/simple/${PROJECT}/`, {
      basic: ["admin", ADMIN_PASSWORD],
      headers: { accept: "application/vnd.pypi.simple.v1+json" },
    });
    assert.equal(page.status, 200);
    assert.deepEqual(
      page.body.files.map((f: { filename: string }) => f.filename),
      ["cooldown_demo-1.0.0-py3-none-any.whl"],
    );
  });

  it("pip install pkg==new fails; the block is recorded and a direct fetch answers 403 with the message", async () => {
    const res = await pipInstall(`${PROJECT}==2.0.0`);
    assert.notEqual(res.code, 0, res.out);
    assert.match(res.out, /Could not find a version that satisfies the requirement cooldown-demo==2\.0\.0 \(from versions: 1\.0\.0\)/);
    assert.equal(res.installed, null);
    const blocked = await s.api("GET", `/cooldown/blocked?search=${PROJECT}`, { token: s.adminToken });
    assert.equal(blocked.body.total, 1);
    assert.equal(blocked.body.items[0].version, "2.0.0");
    assert.equal(blocked.body.items[0].repo, "pypi-proxy");
    assert.equal(blocked.body.items[0].repo_type, "pypi-proxy");
    assert.equal(blocked.body.items[0].reason, "TOO_YOUNG");
    const file = await s.repo("GET", `/pypi-proxy/packages/${PROJECT}/2.0.0/cooldown_demo-2.0.0-py3-none-any.whl`, { basic: ["admin", ADMIN_PASSWORD] });
    assert.equal(file.status, 403);
    assert.match(file.body.message, /Cooldown: cooldown-demo@2\.0\.0 was released .* minimum allowed age of 7d/);
  });

  it("unblocking makes the version installable at once", async () => {
    const res = await s.api("POST", "/repositories/pypi-proxy/cooldown/unblock", { token: s.adminToken, body: { artifact: PROJECT, version: "2.0.0" } });
    assert.equal(res.status, 204, res.text);
    const pinned = await pipInstall(`${PROJECT}==2.0.0`);
    assert.equal(pinned.code, 0, pinned.out);
    assert.equal(pinned.installed, "2.0.0");
    const latest = await pipInstall(PROJECT);
    assert.equal(latest.installed, "2.0.0");
  });
});
