// How a pypi proxy fetches from its remotes: project pages (PEP 691 JSON preferred, PEP 503 HTML
// accepted) are parsed into the project document, re-fetched after the metadata TTL; a file is
// fetched from the URL its project page lists, checked against the page's sha256, and judged by
// cooldown on the page's upload-time.
import { createHash } from "node:crypto";
import { pipeline, Transform, type Readable } from "node:stream";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { FetchPlan, FormatRequest } from "../kit/contract.js";
import { readBody, UpstreamError } from "../kit/upstream.js";
import { releasedAt } from "./cooldown.js";
import { encodeDoc, metaKey, projectOfMetaKey, readDoc } from "./project-doc.js";
import { JSON_V1, parseFilename, parseProjectHtml, parseProjectJson, type PyFile } from "./simple.js";

const PAGE_ACCEPT = `${JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1`;

/** Path of the project page below a remote's URL (remotes may point at the host or at /simple). */
function remoteProjectPath(repo: RepositoryRecord, norm: string): string {
  const url = repo.remotes[0]?.url ?? "";
  return /\/simple\/?$/.test(url) ? `${encodeURIComponent(norm)}/` : `simple/${encodeURIComponent(norm)}/`;
}

function projectPagePlan(req: FormatRequest, norm: string): FetchPlan {
  return {
    remotePath: remoteProjectPath(req.repo, norm),
    headers: { accept: PAGE_ACCEPT },
    transform: async (body, up) => {
      const text = (await readBody({ ...up, body })).toString("utf8");
      const type = up.headers.get("content-type") ?? "";
      try {
        const files = type.includes("json") ? parseProjectJson(JSON.parse(text), up.url) : parseProjectHtml(text, up.url);
        return encodeDoc({ name: norm, files });
      } catch (err) {
        throw new UpstreamError(502, `Upstream index page for '${norm}' is not valid: ${(err as Error).message}`);
      }
    },
  };
}

/** The body, failing (nothing is stored) when it does not hash to the sha256 the project page gave. */
function verifySha256(expected: string, filename: string): (body: Readable) => Readable {
  return (body) => {
    const hash = createHash("sha256");
    const check = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        cb(hash.digest("hex") === expected.toLowerCase() ? null : new UpstreamError(502, `Upstream file '${filename}' does not match its sha256`));
      },
    });
    return pipeline(body, check, () => undefined);
  };
}

/** The file's entry on the cached project page, fetching the page when it is missing or does not list the file. */
async function listedFile(req: FormatRequest, norm: string, filename: string): Promise<PyFile | null> {
  const find = async () => (await readDoc(req.storage, metaKey(norm)))?.files.find((f) => f.filename === filename) ?? null;
  const cached = await find();
  if (cached) return cached;
  await req.files.get(metaKey(norm)).catch(() => null);
  return find();
}

async function filePlan(req: FormatRequest, key: string, norm: string, filename: string): Promise<FetchPlan | null> {
  // Cached already: served as it is (cooldown then refuses it only while a block is active).
  if (await req.storage.exists(key)) return {};
  const entry = await listedFile(req, norm, filename);
  if (!entry) return null;
  const sha256 = entry.hashes.sha256;
  return {
    remotePath: entry.url,
    artifact: { name: norm, version: entry.version ?? parseFilename(filename)?.version ?? "" },
    releasedAt: releasedAt(entry),
    transform: sha256 ? verifySha256(sha256, filename) : undefined,
  };
}

/** The kit's proxy hook: project documents and distribution files; nothing else is asked upstream. */
export function pypiProxyPlan(key: string, req: FormatRequest): Promise<FetchPlan | null> | FetchPlan | null {
  const project = projectOfMetaKey(key);
  if (project) return projectPagePlan(req, project);
  const m = /^packages\/([^/]+)\/[^/]+\/([^/]+)$/.exec(key);
  return m ? filePlan(req, key, m[1], m[2]) : null;
}
