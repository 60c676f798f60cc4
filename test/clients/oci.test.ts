// Real clients: skopeo pushes and pulls a multi-layer image and an image index through a
// docker-group whose members are a hosted repository and a docker-proxy pointing at Debian's
// docker-registry (distribution 2.8), started here on a loopback port with filesystem storage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ADMIN_PASSWORD, startServer, type TestServer } from "../helpers/server.js";

const run = promisify(execFile);
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** An OCI image layout written by hand: blobs/sha256/*, oci-layout and index.json. */
class Layout {
  readonly refs: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[] = [];
  constructor(readonly dir: string) {
    mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
    writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }
  blob(content: Buffer | string): { digest: string; size: number } {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const hex = sha(buf);
    writeFileSync(path.join(this.dir, "blobs", "sha256", hex), buf);
    return { digest: `sha256:${hex}`, size: buf.length };
  }
  /** A gzipped tar layer holding one file, built with the system tar. */
  async layer(name: string, content: string): Promise<{ mediaType: string; digest: string; size: number }> {
    const scratch = mkdtempSync(path.join(os.tmpdir(), "oci-layer-"));
    writeFileSync(path.join(scratch, name), content);
    const tgz = path.join(scratch, "..", path.basename(scratch) + ".tgz");
    await run("tar", ["-czf", tgz, "-C", scratch, name]);
    const buf = readFileSync(tgz);
    rmSync(scratch, { recursive: true, force: true });
    rmSync(tgz, { force: true });
    return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...this.blob(buf) };
  }
  async image(arch: string, files: Record<string, string>): Promise<{ mediaType: string; digest: string; size: number }> {
    const layers = [];
    for (const [n, c] of Object.entries(files)) layers.push(await this.layer(n, c));
    const config = this.blob(
      JSON.stringify({
        created: "2023-03-04T05:06:07Z",
        architecture: arch,
        os: "linux",
        config: {},
        rootfs: { type: "layers", diff_ids: layers.map(() => "sha256:" + "0".repeat(64)) },
      }),
    );
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers,
    });
    return { mediaType: OCI_MANIFEST, ...this.blob(manifest) };
  }
  tag(ref: { mediaType: string; digest: string; size: number }, name: string) {
    this.refs.push({ ...ref, annotations: { "org.opencontainers.image.ref.name": name } });
    writeFileSync(path.join(this.dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: this.refs }));
  }
}

async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run("skopeo", args, { env: { ...process.env, HOME: os.tmpdir() }, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

describe("skopeo against a docker-group (hosted + proxy of docker-registry)", () => {
  let s: TestServer;
  let registry: ChildProcess;
  let regPort = 0;
  let regDir = "";
  let work = "";
  let host = "";
  const creds = `admin:${ADMIN_PASSWORD}`;

  async function startRegistry() {
    registry = spawn("docker-registry", ["serve", path.join(regDir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    registry.stderr!.on("data", (d) => (log += d));
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${regPort}/v2/`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("docker-registry did not start: " + log);
  }
  const stopRegistry = () =>
    new Promise<void>((resolve) => {
      if (!registry || registry.exitCode !== null) return resolve();
      registry.once("exit", () => resolve());
      registry.kill("SIGTERM");
    });

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pantera-oci-client-"));
    regDir = path.join(work, "registry");
    mkdirSync(path.join(regDir, "data"), { recursive: true });
    regPort = await freePort();
    writeFileSync(
      path.join(regDir, "config.yml"),
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(regDir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${regPort}\n`,
    );
    await startRegistry();
    s = await startServer();
    host = new URL(s.repoUrl).host;
    const mk = async (name: string, repo: unknown) => {
      const r = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo } });
      assert.equal(r.status, 200, r.text);
    };
    await mk("oh", { type: "docker", storage: "default" });
    await mk("op", { type: "docker-proxy", storage: "default", remotes: [{ url: `http://127.0.0.1:${regPort}` }], metadata_ttl: 0 }); // ask upstream on every tag pull, so the down case uses the stale cache
    await mk("og", { type: "docker-group", storage: "default", members: ["oh", "op"] });
  });
  after(async () => {
    await s?.close();
    await stopRegistry();
    rmSync(work, { recursive: true, force: true });
  });

  /** Pulls `ref` into a fresh OCI layout and returns the blob file names it got. */
  async function pull(ref: string, all = false): Promise<{ dir: string; blobs: string[]; index: any }> {
    const dir = mkdtempSync(path.join(work, "pull-"));
    await skopeo(
      "copy",
      ...(all ? ["--all", "--preserve-digests"] : []),
      "--src-tls-verify=false",
      "--src-creds",
      creds,
      `docker://${host}/${ref}`,
      `oci:${dir}:out`,
    );
    const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8"));
    const { readdirSync } = await import("node:fs");
    return { dir, blobs: readdirSync(path.join(dir, "blobs", "sha256")).sort(), index };
  }

  it("pushes a multi-layer image through the group and pulls it back byte-identical", async () => {
    const layout = new Layout(path.join(work, "multi"));
    const img = await layout.image("amd64", { "a.txt": "first layer", "b.txt": "second layer", "c.txt": "third layer" });
    layout.tag(img, "v1");
    await skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout.dir}:v1`, `docker://${host}/og/app:v1`);

    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/app:v1`);
    assert.equal(`sha256:${sha(raw)}`, img.digest, "the manifest is stored byte for byte");
    const manifest = JSON.parse(raw);
    assert.equal(manifest.layers.length, 3);

    // The push landed in the hosted member.
    const direct = await fetch(`${s.repoUrl}/v2/oh/app/manifests/${img.digest}`, {
      headers: { authorization: "Basic " + Buffer.from(creds).toString("base64") },
    });
    assert.equal(direct.status, 200);

    const got = await pull("og/app:v1");
    const expected = [img.digest, manifest.config.digest, ...manifest.layers.map((l: any) => l.digest)].map((d: string) => d.slice(7)).sort();
    assert.deepEqual(got.blobs, expected);
    for (const b of got.blobs) assert.equal(sha(readFileSync(path.join(got.dir, "blobs", "sha256", b))), b, "every pulled blob matches its digest");

    const tags = JSON.parse(await skopeo("list-tags", "--tls-verify=false", "--creds", creds, `docker://${host}/og/app`));
    assert.deepEqual(tags.Tags, ["v1"]);
    const rows = await s.services.db.prisma.artifact.findMany({ where: { repoName: "oh", name: "app" } });
    assert.deepEqual(
      rows.map((r) => [r.version, r.owner]),
      [["v1", "admin"]],
    );
  });

  it("converts to Docker schema 2 on push, pulls it back, and deletes it with skopeo delete", async () => {
    const layout = new Layout(path.join(work, "v2s2"));
    layout.tag(await layout.image("amd64", { "d1.txt": "docker one", "d2.txt": "docker two" }), "v1");
    await skopeo("copy", "-f", "v2s2", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout.dir}:v1`, `docker://${host}/og/dockerfmt:v1`);
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/dockerfmt:v1`);
    const m = JSON.parse(raw);
    assert.equal(m.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(m.config.mediaType, "application/vnd.docker.container.image.v1+json");
    const got = await pull("og/dockerfmt:v1");
    assert.equal(got.blobs.length, 4, "manifest, config and two layers");
    await skopeo("delete", "--tls-verify=false", "--creds", creds, `docker://${host}/og/dockerfmt:v1`);
    await assert.rejects(skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/dockerfmt:v1`), /manifest unknown|not found/i);
  });

  it("pushes an image index (two platforms) through the group and pulls every platform back", async () => {
    const layout = new Layout(path.join(work, "index"));
    const amd = await layout.image("amd64", { "amd.txt": "amd64 bits", "common.txt": "shared" });
    const arm = await layout.image("arm64", { "arm.txt": "arm64 bits" });
    const index = layout.blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { ...amd, platform: { os: "linux", architecture: "amd64" } },
          { ...arm, platform: { os: "linux", architecture: "arm64" } },
        ],
      }),
    );
    layout.tag({ mediaType: OCI_INDEX, ...index }, "multi");
    await skopeo(
      "copy",
      "--all",
      "--preserve-digests",
      "--dest-tls-verify=false",
      "--dest-creds",
      creds,
      `oci:${layout.dir}:multi`,
      `docker://${host}/og/platforms:1.0`,
    );

    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/platforms:1.0`);
    assert.equal(`sha256:${sha(raw)}`, index.digest);
    assert.equal(JSON.parse(raw).manifests.length, 2);
    const arm64 = JSON.parse(await skopeo("inspect", "--tls-verify=false", "--creds", creds, "--override-arch", "arm64", `docker://${host}/og/platforms:1.0`));
    assert.equal(arm64.Architecture, "arm64");

    const got = await pull("og/platforms:1.0", true);
    assert.equal(got.index.manifests[0].digest, index.digest, "the index digest survives the round trip");
    assert.ok(got.blobs.includes(amd.digest.slice(7)) && got.blobs.includes(arm.digest.slice(7)));
  });

  it("pulls images that only the upstream docker-registry has through the proxy member, and serves the cache when it is down", async () => {
    const layout = new Layout(path.join(work, "upstream"));
    const img = await layout.image("amd64", { "up1.txt": "upstream layer 1", "up2.txt": "upstream layer 2" });
    layout.tag(img, "v2");
    // Straight into docker-registry, not through Pantera.
    await skopeo("copy", "--dest-tls-verify=false", `oci:${layout.dir}:v2`, `docker://127.0.0.1:${regPort}/library/upimg:v2`);

    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/library/upimg:v2`);
    assert.equal(`sha256:${sha(raw)}`, img.digest);
    const got = await pull("og/library/upimg:v2");
    const manifest = JSON.parse(raw);
    assert.deepEqual(got.blobs, [img.digest, manifest.config.digest, ...manifest.layers.map((l: any) => l.digest)].map((d: string) => d.slice(7)).sort());

    const rows = await s.services.db.prisma.artifact.findMany({ where: { repoName: "op", name: "library/upimg" } });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].version, "v2");
    assert.equal(rows[0].releasedAt?.toISOString(), "2023-03-04T05:06:07.000Z", "release date from the OCI config 'created'");

    const index = JSON.parse(await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/og/platforms:1.0`));
    assert.ok(index.manifests, "hosted content still resolves first");

    await stopRegistry();
    const again = await pull("og/library/upimg:v2");
    assert.deepEqual(again.blobs, got.blobs, "the cached image is served while the upstream is down");
    await startRegistry();
  });

  it("refuses pushes without credentials and pushes to the proxy member", async () => {
    const layout = new Layout(path.join(work, "denied"));
    layout.tag(await layout.image("amd64", { "x.txt": "x" }), "v1");
    await assert.rejects(
      skopeo("copy", "--dest-tls-verify=false", `oci:${layout.dir}:v1`, `docker://${host}/og/denied:v1`),
      /unauthorized|authentication required/i,
    );
    await assert.rejects(
      skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout.dir}:v1`, `docker://${host}/op/denied:v1`),
      /unsupported|405|not supported/i,
    );
  });
});
