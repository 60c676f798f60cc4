// OCI blob pull: Pantera (hosted docker repository) vs Debian's docker-registry serving the
// same blob, measured in one run with autocannon. Both run as separate processes on loopback.
//
//   npx tsx bench/oci-blob-pull.ts [blobKiB=1024] [seconds=10] [connections=16]
// Cases: a 4 KiB blob (per-request overhead) and a blobKiB blob (throughput), each on both servers.
//
// Pantera is pulled with a Bearer token from its /v2/token endpoint (what docker clients do);
// docker-registry runs without auth (its default), filesystem storage.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { adminToken, freePort, load, startNode, table, type Result } from "./lib.js";

const KIB = Number(process.argv[2] ?? 1024);
const SECONDS = Number(process.argv[3] ?? 10);
const CONNECTIONS = Number(process.argv[4] ?? 16);
const SMALL_KIB = 4;

async function pushBlob(base: string, name: string, blob: Buffer, auth?: string): Promise<string> {
  const digest = "sha256:" + createHash("sha256").update(blob).digest("hex");
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  const post = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: "POST", headers });
  if (post.status !== 202) throw new Error(`POST ${base}: ${post.status} ${await post.text()}`);
  const loc = new URL(post.headers.get("location")!, base);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, { method: "PUT", headers: { ...headers, "content-type": "application/octet-stream" }, body: new Uint8Array(blob) });
  if (put.status !== 201) throw new Error(`PUT ${base}: ${put.status} ${await put.text()}`);
  return digest;
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "oci-bench-"));
  const regPort = await freePort();
  writeFileSync(
    path.join(work, "config.yml"),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(work, "data")}\nhttp:\n  addr: 127.0.0.1:${regPort}\n`,
  );
  const registry = spawn("docker-registry", ["serve", path.join(work, "config.yml")], { stdio: "ignore" });
  const regBase = `http://127.0.0.1:${regPort}`;
  for (
    let i = 0;
    i < 100 &&
    !(await fetch(`${regBase}/v2/`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  )
    await new Promise((r) => setTimeout(r, 100));

  const node = await startNode();
  try {
    const apiToken = await adminToken(node);
    const created = await fetch(`${node.api}/api/v1/repositories/bench`, {
      method: "PUT",
      headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: { type: "docker", storage: "default" } }),
    });
    if (!created.ok) throw new Error(`create repo: ${created.status} ${await created.text()}`);
    const basic = "Basic " + Buffer.from(`admin:${node.adminPassword}`).toString("base64");
    const tok = (await (
      await fetch(`${node.repo}/v2/token?service=pantera&scope=repository:bench/img:pull`, { headers: { authorization: basic } })
    ).json()) as { token: string };
    const bearer = `Bearer ${tok.token}`;

    const rows: Result[] = [];
    const opts = { connections: CONNECTIONS, duration: SECONDS };
    for (const kib of [SMALL_KIB, KIB]) {
      const blob = randomBytes(kib * 1024);
      const d1 = await pushBlob(regBase, "bench/img", blob);
      const d2 = await pushBlob(node.repo, "bench/img", blob, basic);
      if (d1 !== d2) throw new Error("digest mismatch");
      // Sanity: both serve the same bytes.
      for (const [url, h] of [
        [`${regBase}/v2/bench/img/blobs/${d1}`, {}],
        [`${node.repo}/v2/bench/img/blobs/${d2}`, { authorization: bearer }],
      ] as const) {
        const got = Buffer.from(await (await fetch(url, { headers: h })).arrayBuffer());
        if (!got.equals(blob)) throw new Error(`wrong bytes from ${url}`);
      }
      const mib = (r: Result) => ({ ...r, name: `${r.name} (${((r.rps * kib) / 1024).toFixed(1)} MiB/s)` });
      rows.push(mib(await load(`docker-registry 2.8 GET blob ${kib} KiB`, { ...opts, url: `${regBase}/v2/bench/img/blobs/${d1}` })));
      rows.push(
        mib(await load(`pantera GET blob ${kib} KiB, Bearer`, { ...opts, url: `${node.repo}/v2/bench/img/blobs/${d2}`, headers: { authorization: bearer } })),
      );
    }
    console.log(
      `\nOCI blob pull, ${CONNECTIONS} connections, ${SECONDS}s per case, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}\n`,
    );
    console.log(table(rows));
  } finally {
    await node.stop();
    registry.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
