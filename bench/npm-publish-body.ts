// The npm publish bodies the npm benchmarks send to Pantera and Verdaccio alike.
import { createHash } from "node:crypto";

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
        dist: { shasum: createHash("sha1").update(tarball).digest("hex"), integrity: "sha512-" + createHash("sha512").update(tarball).digest("base64"), tarball: `${registry}/${name}/-/${file}` },
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
