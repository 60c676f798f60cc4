// `v2` as a global path prefix (the REST reference's own example is {"prefixes":["test_prefix","v2"]}):
// /v2/<repo>/<path> reaches a file or maven repository through the per-repository dispatcher, while
// the OCI distribution API keeps /v2/, /v2/token, /v2/_catalog and /v2/<docker-repo>/<image>/...,
// checked here over HTTP and with skopeo pushing and pulling an image.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ADMIN_PASSWORD, startServer, type TestServer } from "../helpers/server.js";

const run = promisify(execFile);
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const admin: [string, string] = ["admin", ADMIN_PASSWORD];
const creds = `admin:${ADMIN_PASSWORD}`;

async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run("skopeo", args, { env: { ...process.env, HOME: os.tmpdir() }, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

/** A one-layer OCI image layout tagged `tag`; returns its manifest digest and the digests of all its blobs. */
async function ociLayout(dir: string, tag: string): Promise<{ digest: string; blobs: string[] }> {
  mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const blob = (buf: Buffer) => {
    writeFileSync(path.join(dir, "blobs", "sha256", sha(buf)), buf);
    return { digest: `sha256:${sha(buf)}`, size: buf.length };
  };
  const scratch = mkdtempSync(path.join(os.tmpdir(), "v2-prefix-layer-"));
  writeFileSync(path.join(scratch, "hello.txt"), "hello through a v2 prefix");
  await run("tar", ["-czf", path.join(scratch, "layer.tgz"), "-C", scratch, "hello.txt"]);
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob(readFileSync(path.join(scratch, "layer.tgz"))) };
  rmSync(scratch, { recursive: true, force: true });
  const config = blob(
    Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: ["sha256:" + "0".repeat(64)] } })),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [layer],
      }),
    ),
  );
  const ref = { mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": tag } };
  writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [ref] }));
  return { digest: manifest.digest, blobs: [manifest.digest, config.digest, layer.digest].map((d) => d.slice(7)).sort() };
}

describe("'v2' as a global prefix next to the OCI distribution API", () => {
  let s: TestServer;
  let work = "";

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "pantera-v2-prefix-"));
    s = await startServer();
    for (const [name, type] of [
      ["v2files", "file"],
      ["v2maven", "maven"],
      ["v2dock", "docker"],
    ]) {
      const r = await s.api("PUT", `/repositories/${name}`, { token: s.adminToken, body: { repo: { type, storage: "default" } } });
      assert.equal(r.status, 200, r.text);
    }
    const r = await s.api("PUT", "/settings/prefixes", { token: s.adminToken, body: { prefixes: ["test_prefix", "v2"] } });
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    await s?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("stores and serves a file repository's files under /v2/<repo>/", async () => {
    const put = await s.repo("PUT", "/v2/v2files/docs/readme.txt", { basic: admin, raw: "hello v2 prefix" });
    assert.equal(put.status, 201, put.text);
    const got = await s.repo("GET", "/v2/v2files/docs/readme.txt", { basic: admin });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, "hello v2 prefix");
    assert.equal(got.headers.get("docker-distribution-api-version"), null, "not an OCI answer");
    // The same file without the prefix, and the folder listing through it.
    assert.equal((await s.repo("GET", "/v2files/docs/readme.txt", { basic: admin })).text, "hello v2 prefix");
    const listing = await s.repo("GET", "/v2/v2files/docs/", { basic: admin, headers: { accept: "application/json" } });
    assert.equal(listing.status, 200, listing.text);
    assert.deepEqual(
      listing.body.items.map((i: { name: string }) => i.name),
      ["readme.txt"],
    );
  });

  it("answers anonymous callers below /v2/<file repo>/ as the repository port does: 401 with a Basic challenge", async () => {
    const res = await s.repo("GET", "/v2/v2files/docs/readme.txt");
    assert.equal(res.status, 401);
    assert.equal(res.body.error, "UNAUTHORIZED");
    assert.match(res.headers.get("www-authenticate") ?? "", /^Basic /);
  });

  it("deploys and resolves maven artifacts under /v2/<repo>/", async () => {
    const base = "/v2/v2maven/com/example/lib/1.0";
    const jar = Buffer.from("not really a jar, but bytes");
    const pom = `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version></project>`;
    const putPom = await s.repo("PUT", `${base}/lib-1.0.pom`, { basic: admin, raw: pom });
    assert.ok(putPom.status === 200 || putPom.status === 201, `${putPom.status} ${putPom.text}`);
    const putJar = await fetch(`${s.repoUrl}${base}/lib-1.0.jar`, {
      method: "PUT",
      headers: { authorization: "Basic " + Buffer.from(creds).toString("base64") },
      body: jar,
    });
    assert.ok(putJar.status === 200 || putJar.status === 201, String(putJar.status));
    const got = await fetch(`${s.repoUrl}${base}/lib-1.0.jar`, { headers: { authorization: "Basic " + Buffer.from(creds).toString("base64") } });
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), jar);
    const sha1 = await s.repo("GET", `${base}/lib-1.0.jar.sha1`, { basic: admin });
    assert.equal(sha1.status, 200, sha1.text);
    assert.equal(sha1.text.trim().slice(0, 40), createHash("sha1").update(jar).digest("hex"));
    assert.equal((await s.repo("GET", `/v2maven/com/example/lib/1.0/lib-1.0.pom`, { basic: admin })).text, pom);
  });

  it("keeps the OCI endpoints: /v2/, /v2/token, a docker repository, and names that are no repository", async () => {
    const base = await s.repo("GET", "/v2/", { basic: admin });
    assert.equal(base.status, 200);
    assert.deepEqual(base.body, {});
    assert.equal(base.headers.get("docker-distribution-api-version"), "registry/2.0");
    const anon = await s.repo("GET", "/v2/");
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get("www-authenticate") ?? "", /^Bearer realm=".*\/v2\/token"/);
    const token = await s.repo("GET", "/v2/token?service=pantera&scope=repository:v2dock/app:pull", { basic: admin });
    assert.equal(token.status, 200, token.text);
    assert.equal(typeof token.body.token, "string");
    const unknown = await s.repo("GET", "/v2/v2dock/never-pushed/tags/list", { token: token.body.token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errors[0].code, "NAME_UNKNOWN");
    const missing = await s.repo("GET", "/v2/no-such-repo/app/tags/list", { basic: admin });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errors[0].code, "NAME_UNKNOWN");
    assert.equal(missing.headers.get("docker-distribution-api-version"), "registry/2.0");
  });

  it("skopeo pushes an image to a docker repository and pulls it back with the prefix set", async () => {
    const host = new URL(s.repoUrl).host;
    const src = path.join(work, "src");
    const image = await ociLayout(src, "v1");
    await skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${src}:v1`, `docker://${host}/v2dock/app:v1`);
    const raw = await skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${host}/v2dock/app:v1`);
    assert.equal(`sha256:${sha(raw)}`, image.digest);
    const dest = path.join(work, "dest");
    await skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, `docker://${host}/v2dock/app:v1`, `oci:${dest}:out`);
    assert.deepEqual(readdirSync(path.join(dest, "blobs", "sha256")).sort(), image.blobs);
    const tags = JSON.parse(await skopeo("list-tags", "--tls-verify=false", "--creds", creds, `docker://${host}/v2dock/app`));
    assert.deepEqual(tags.Tags, ["v1"]);
    const catalog = await s.repo("GET", "/v2/_catalog", { basic: admin });
    assert.deepEqual(catalog.body, { repositories: ["v2dock/app"] });
  });
});
