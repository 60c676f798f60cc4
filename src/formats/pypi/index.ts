// PyPI repositories: hosted (pypi), proxy (pypi-proxy) and group (pypi-group).
//
// Client-facing layout:   /<repo>/simple/, /<repo>/simple/<normalized>/ (PEP 503 HTML / PEP 691 JSON),
//                         POST /<repo>/ (twine legacy upload), files at /<repo>/packages/<norm>/<version>/<file>
// Storage layout:         see project-doc.ts.
import type { FormatPlugin, HookTarget } from "../kit/contract.js";
import { withPackageLock } from "../kit/body.js";
import { pypiConfig } from "./config.js";
import { filterProjectDoc } from "./cooldown.js";
import { download, mergeProjectDocs, projectIndex, projectPage } from "./pages.js";
import { encodeDoc, metaKey, projectOfMetaKey, readDoc } from "./project-doc.js";
import { pypiProxyPlan } from "./proxy.js";
import { parseFilename, type PyFile } from "./simple.js";
import { upload } from "./upload.js";

/** The distribution stored at `path` (packages/<norm>/<version>/<file>), or null. */
function describe(path: string): { name: string; version: string } | null {
  const m = /^packages\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return null;
  const parsed = parseFilename(m[3]);
  return parsed ? { name: m[1], version: parsed.version } : null;
}

/** A file or folder deleted through the management API leaves the hosted project document. */
async function afterDelete(t: HookTarget & { path: string; folder: boolean }): Promise<void> {
  const m = /^packages\/([^/]+)(?:\/|$)/.exec(t.path);
  if (!m) return;
  const norm = m[1];
  const gone = (f: PyFile) => (t.folder ? f.url === t.path || f.url.startsWith(t.path + "/") : f.url === t.path);
  await withPackageLock(t, t, norm, async () => {
    const doc = await readDoc(t.storage, metaKey(norm));
    if (!doc) return;
    doc.files = doc.files.filter((f) => !gone(f));
    if (doc.files.length === 0) await t.storage.delete(metaKey(norm));
    else await t.storage.put(metaKey(norm), encodeDoc(doc));
  });
}

export const pypiPlugin: FormatPlugin = {
  format: "pypi",
  config: pypiConfig,
  routes: [
    { method: "POST", path: "/", op: "upload", write: true },
    { method: "POST", path: "/legacy", op: "upload", write: true },
    { method: "GET", path: "/simple", op: "projectIndex" },
    { method: "GET", path: "/simple/:project", op: "projectPage" },
    { method: "GET", path: "/packages/:project/:version/:filename", op: "download" },
  ],
  operations: { upload, projectIndex, projectPage, download },
  layout: {
    describe,
    isMetadata: (path) => projectOfMetaKey(path) !== null,
  },
  proxy: { plan: pypiProxyPlan, filterCooldown: filterProjectDoc },
  mergeMetadata: mergeProjectDocs,
  pullInstructions(_repo, path, baseUrl) {
    const seg = path.split("/").filter(Boolean);
    const parsed = parseFilename(seg[seg.length - 1] ?? "");
    const spec = parsed ? `${parsed.project}==${parsed.version}` : (seg[1] ?? "<package>");
    return [`pip install --index-url ${baseUrl}/simple/ ${spec}`];
  },
  hooks: { afterDelete },
};
