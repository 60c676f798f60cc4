// Memory of `npm publish` for large tarballs: the peak RSS of the server process while a
// publish body (JSON with the tarball in base64, as the npm client sends it) streams in.
// Pantera decodes the attachment into a staging file as it arrives; Verdaccio, the peer,
// parses the whole body. V8 strings stop at ~512 MiB, so the peer runs at 256 MiB only.
//
//   npx tsx bench/npm-publish.ts
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { adminToken, startNode } from "./lib.js";
import { startVerdaccio } from "./verdaccio.js";

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** A deterministic pseudo-random block repeated to `size` bytes (the "tarball"). */
const block = createHash("sha512").update("pantera").digest();
const blockOf = (n: number) => Buffer.concat(Array.from({ length: Math.ceil(n / block.length) }, () => block)).subarray(0, n);
const CHUNK = blockOf(3 * 256 * 1024); // base64-aligned piece of the tarball

function digests(size: number): { sha1: string; sha512: string } {
  const s1 = createHash("sha1");
  const s512 = createHash("sha512");
  for (let done = 0; done < size; done += CHUNK.length) {
    const piece = CHUNK.subarray(0, Math.min(CHUNK.length, size - done));
    s1.update(piece);
    s512.update(piece);
  }
  return { sha1: s1.digest("hex"), sha512: s512.digest("base64") };
}

/** PUTs a publish body for `name@1.0.0` with a `size`-byte tarball; samples the server's RSS. */
async function publish(url: string, token: string, pid: number, name: string, size: number) {
  const d = digests(size);
  const file = `${name}-1.0.0.tgz`;
  const manifest = { name, version: "1.0.0", dist: { shasum: d.sha1, integrity: `sha512-${d.sha512}`, tarball: `${url}/${name}/-/${file}` } };
  const head = `{"_id":"${name}","name":"${name}","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":${JSON.stringify(manifest)}},"_attachments":{"${file}":{"content_type":"application/octet-stream","length":${size},"data":"`;
  const tail = `"}}}`;
  const b64 = CHUNK.toString("base64");
  const length = Buffer.byteLength(head) + Math.ceil(size / 3) * 4 + tail.length;
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  const t0 = Date.now();
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      `${url}/${name}`,
      { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": String(length) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    (async () => {
      req.write(head);
      for (let done = 0; done < size; done += CHUNK.length) {
        const n = Math.min(CHUNK.length, size - done);
        const text = n === CHUNK.length ? b64 : CHUNK.subarray(0, n).toString("base64");
        if (!req.write(text)) await new Promise((r) => req.once("drain", r));
      }
      req.end(tail);
    })().catch(reject);
  });
  clearInterval(sampler);
  const seconds = (Date.now() - t0) / 1000;
  return { status, seconds, before, peak };
}

const work = mkdtempSync(path.join(os.tmpdir(), "npm-publish-bench-"));
const rows: string[] = ["| server | tarball | status | time s | RSS before MiB | RSS peak MiB |", "|---|---:|---:|---:|---:|---:|"];
const row = (server: string, size: number, r: Awaited<ReturnType<typeof publish>>) =>
  rows.push(`| ${server} | ${size / MiB} MiB | ${r.status} | ${r.seconds.toFixed(1)} | ${r.before.toFixed(0)} | ${r.peak.toFixed(0)} |`);
try {
  const pantera = await startNode();
  try {
    const token = await adminToken(pantera);
    const created = await fetch(`${pantera.api}/api/v1/repositories/npm-bench`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: { type: "npm", storage: "default" } }),
    });
    if (created.status >= 300) throw new Error(`create repo: ${created.status}`);
    for (const size of [256 * MiB, 1024 * MiB]) row("pantera", size, await publish(`${pantera.repo}/npm-bench`, token, pantera.pid, `pkg-${size / MiB}`, size));
  } finally {
    await pantera.stop();
  }
  const verdaccio = await startVerdaccio(path.join(work, "verdaccio"), { maxBodySize: "2gb" });
  try {
    row("verdaccio", 256 * MiB, await publish(verdaccio.url, verdaccio.token, verdaccio.pid, "pkg-256", 256 * MiB));
  } finally {
    await verdaccio.stop();
  }
  console.log(rows.join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
}
