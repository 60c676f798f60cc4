// Artifact GET throughput and latency on the repository port against nginx serving the same
// files (the physical limit), plus the RSS of the Pantera process during a 1 GiB upload and
// download (streaming: memory must stay flat).
//
//   npx tsx bench/artifacts.ts            (needs nginx: apt-get install -y nginx)
//   BENCH_DURATION=5 npx tsx bench/artifacts.ts
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { adminToken, freePort, load, startNode, table, type Result } from "./lib.js";
import { startNginx, waitForHttp } from "../test/helpers/nginx.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const SIZES: Array<[string, number, number]> = [
  ["4 KiB", 4 * 1024, 32],
  ["1 MiB", 1024 * 1024, 16],
  ["50 MiB", 50 * 1024 * 1024, 4],
];

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/** A stream of `size` pseudo-random bytes produced in 1 MiB chunks (never held whole). */
function generated(size: number): Readable {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(chunk.length, size - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function main() {
  if (spawnSync("nginx", ["-v"]).status !== 0) throw new Error("nginx is not installed (apt-get install -y nginx)");
  const work = mkdtempSync(path.join(os.tmpdir(), "pantera-bench-artifacts-"));
  const files = path.join(work, "files");
  mkdirSync(files, { recursive: true });
  chmodSync(work, 0o755); // nginx workers run as an unprivileged user
  const pantera = await startNode();
  const nginxPort = await freePort();
  const nginx = startNginx(
    path.join(work, "nginx"),
    `  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n  server { listen 127.0.0.1:${nginxPort}; root ${files}; }`,
  );
  const auth = "Basic " + Buffer.from("admin:bench-admin").toString("base64");
  try {
    await waitForHttp(`http://127.0.0.1:${nginxPort}/`);
    const token = await adminToken(pantera);
    const created = await fetch(`${pantera.api}/api/v1/repositories/bench`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: { type: "file", storage: "default" } }),
    });
    if (created.status >= 300) throw new Error(`creating the repository failed: ${created.status} ${await created.text()}`);

    const rows: Result[] = [];
    for (const [label, size, connections] of SIZES) {
      const name = `f-${size}.bin`;
      const body = Buffer.alloc(size, 0x61);
      writeFileSync(path.join(files, name), body);
      const put = await fetch(`${pantera.repo}/bench/${name}`, { method: "PUT", headers: { authorization: auth }, body });
      if (put.status >= 300) throw new Error(`upload failed: ${put.status}`);
      rows.push(await load(`nginx GET ${label}`, { url: `http://127.0.0.1:${nginxPort}/${name}`, connections, duration: DURATION }));
      rows.push(
        await load(`pantera GET ${label}`, { url: `${pantera.repo}/bench/${name}`, connections, duration: DURATION, headers: { authorization: auth } }),
      );
    }
    console.log(`\nArtifact GET, ${DURATION} s per case, autocannon on the same host (2 cores), nginx worker_processes 1:\n`);
    console.log(table(rows));

    // RSS during a 1 GiB upload and download.
    const pid = pantera.pid;
    const GiB = 1024 * 1024 * 1024;
    const before = rssKiB(pid);
    let peakUp = before;
    const sampler = setInterval(() => (peakUp = Math.max(peakUp, rssKiB(pid))), 100);
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${pantera.repo}/bench/big.bin`, { method: "PUT", headers: { authorization: auth, "content-length": String(GiB) } }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode! < 300 ? resolve() : reject(new Error(`upload ${res.statusCode}`))));
      });
      req.on("error", reject);
      generated(GiB).pipe(req);
    });
    const upSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    let peakDown = rssKiB(pid);
    const sampler2 = setInterval(() => (peakDown = Math.max(peakDown, rssKiB(pid))), 100);
    const t1 = Date.now();
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      http.get(`${pantera.repo}/bench/big.bin`, { headers: { authorization: auth } }, (res) => {
        res.on("data", (c: Buffer) => (received += c.length));
        res.on("end", resolve);
        res.on("error", reject);
      });
    });
    const downSeconds = (Date.now() - t1) / 1000;
    clearInterval(sampler2);
    if (received !== GiB) throw new Error(`download returned ${received} bytes`);
    const mib = (k: number) => (k / 1024).toFixed(0);
    console.log(
      `\n1 GiB upload: ${upSeconds.toFixed(1)} s (${(1024 / upSeconds).toFixed(0)} MiB/s); Pantera RSS before ${mib(before)} MiB, peak ${mib(peakUp)} MiB`,
    );
    console.log(`1 GiB download: ${downSeconds.toFixed(1)} s (${(1024 / downSeconds).toFixed(0)} MiB/s); Pantera RSS peak ${mib(peakDown)} MiB`);
  } finally {
    nginx.kill("SIGTERM");
    await pantera.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
