// What the npm benchmarks share: Pantera (its own process, an npm hosted repository) and
// Verdaccio side by side, and the publish bodies sent to both alike.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { adminToken, startNode } from "./lib.js";
import { startVerdaccio, type Verdaccio } from "./verdaccio.js";

export interface NpmPeers {
  /** Base URL of the Pantera npm hosted repository `npm-bench`. */
  pantera: string;
  /** Headers a Pantera client sends (Bearer token, as npm with _authToken). */
  auth: Record<string, string>;
  token: string;
  verdaccio: Verdaccio;
}

/** Starts both servers, runs `fn`, stops both. */
export async function withNpmPeers(fn: (peers: NpmPeers) => Promise<void>): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "pantera-npm-bench-"));
  const verdaccio = await startVerdaccio(path.join(tmp, "verdaccio"));
  const node = await startNode();
  try {
    const token = await adminToken(node);
    const auth = { authorization: `Bearer ${token}` };
    const created = await fetch(`${node.api}/api/v1/repositories/npm-bench`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ repo: { type: "npm", storage: "default" } }),
    });
    if (created.status >= 300) throw new Error(`create repo: ${created.status} ${await created.text()}`);
    await fn({ pantera: `${node.repo}/npm-bench`, auth, token, verdaccio });
  } finally {
    await node.stop();
    await verdaccio.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** One `npm publish` body: a version with its base64 tarball. */
export function publishBody(name: string, version: string, tarball: Buffer, registry: string, description = "benchmark package") {
  const file = `${name}-${version}.tgz`;
  return {
    _id: name,
    name,
    description,
    "dist-tags": { latest: version },
    versions: {
      [version]: {
        name,
        version,
        description,
        main: "index.js",
        dependencies: { "left-pad": "^1.3.0" },
        dist: {
          shasum: createHash("sha1").update(tarball).digest("hex"),
          integrity: "sha512-" + createHash("sha512").update(tarball).digest("base64"),
          tarball: `${registry}/${name}/-/${file}`,
        },
      },
    },
    _attachments: { [file]: { content_type: "application/octet-stream", data: tarball.toString("base64"), length: tarball.length } },
  };
}

/** Publishes versions 1.0.0, 1.0.1, ... of `name`, one tarball each. */
export async function publishAll(registry: string, token: string, name: string, tarballs: Buffer[], description?: string): Promise<void> {
  for (let i = 0; i < tarballs.length; i++) {
    const version = `1.0.${i}`;
    const res = await fetch(`${registry}/${name}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(publishBody(name, version, tarballs[i], registry, description)),
    });
    if (res.status >= 300) throw new Error(`publish ${name}@${version} to ${registry}: ${res.status} ${await res.text()}`);
  }
}
