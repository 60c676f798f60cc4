// The simple repository API a pypi repository answers with: the project index, project pages
// (PEP 503 HTML or PEP 691 JSON per Accept, files linked below this repository's URL) and the
// distribution files; and a group's project page, merged from its members'.
import { notFound } from "../../errors.js";
import type { FormatRequest, OperationResult, Reply } from "../kit/contract.js";
import { encodePath } from "../kit/upstream.js";
import { encodeDoc, fileKey, META_DIR, metaKey, parseDoc, servedKey } from "./project-doc.js";
import {
  assembleFiles,
  JSON_V1,
  mergeFiles,
  negotiate,
  normalize,
  parseFilename,
  renderIndexHtml,
  renderIndexJson,
  renderProjectHtml,
  renderProjectJson,
  validateProject,
} from "./simple.js";

function page(req: FormatRequest, json: () => unknown, html: () => string): Reply {
  const form = negotiate(req.header("accept"), req.query.get("format") ?? undefined);
  const headers = { Vary: "Accept" };
  if (form === "json") return { status: 200, headers, type: JSON_V1, body: JSON.stringify(json()) };
  return { status: 200, headers, type: "text/html; charset=utf-8", body: html() };
}

/** GET /simple/: every project with a document in this repository (a group: in any member). */
export async function projectIndex(req: FormatRequest): Promise<OperationResult> {
  req.require("read");
  const names = new Set<string>();
  for (const e of await req.files.list(META_DIR)) {
    if (e.key.endsWith(".json")) names.add(e.key.slice(META_DIR.length + 1, -5));
  }
  const sorted = [...names].sort();
  return page(
    req,
    () => renderIndexJson(sorted),
    () => renderIndexHtml(sorted),
  );
}

/** GET /simple/<project>/: the project's files; other spellings of the name redirect to the normalised one. */
export async function projectPage(req: FormatRequest): Promise<OperationResult> {
  req.require("read");
  const requested = req.params.project;
  const norm = normalize(requested);
  if (requested !== norm || !req.trailingSlash) {
    const location = `${req.baseUrl}/simple/${encodeURIComponent(norm)}/`;
    return { status: 301, headers: { Location: location }, body: `Redirecting to ${location}.` };
  }
  validateProject(norm);
  const doc = parseDoc(await req.files.read(metaKey(norm)));
  const files = assembleFiles((doc?.files ?? []).map((f) => ({ ...f, url: `${req.baseUrl}/${encodePath(servedKey(norm, f))}` })));
  if (!doc || files.length === 0) throw notFound(`Project '${norm}' not found`);
  return page(
    req,
    () => renderProjectJson(doc.name, files),
    () => renderProjectHtml(doc.name, files),
  );
}

/** GET /packages/<project>/<version>/<file>. */
export async function download(req: FormatRequest): Promise<OperationResult> {
  req.require("read");
  const { project, version, filename } = req.params;
  if (normalize(project) !== project || !parseFilename(filename)) throw notFound(`File '${req.path}' not found`);
  const file = await req.files.open(fileKey(project, version, filename));
  if (!file) throw notFound(`File '${filename}' not found`);
  return { file, type: "application/octet-stream" };
}

/** A group's project document: the members' files in member order, the first holding a file name wins it. */
export function mergeProjectDocs(_key: string, docs: { bytes: Buffer }[]): Buffer | null {
  const parsed = docs.map((d) => parseDoc(d.bytes)).filter((d) => d !== null);
  if (!parsed.length) return null;
  return Buffer.from(encodeDoc({ name: parsed[0].name, files: mergeFiles(parsed.map((d) => d.files)) }));
}
