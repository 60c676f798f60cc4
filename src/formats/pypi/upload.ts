// twine's legacy upload API: POST / (or /legacy/) with a multipart/form-data body whose `content`
// part is the distribution file. The file is stored first (refused when it exists or does not
// match its declared digests), then listed in the project document under the project's cluster
// lock; a file that could not be listed is removed again, so the client's retry is not refused
// as a duplicate.
import { PassThrough } from "node:stream";
import Busboy from "busboy";
import { badRequest, conflict, DomainError, payloadTooLarge } from "../../errors.js";
import type { FormatRequest, HostedTarget, OperationResult } from "../kit/contract.js";
import { withPackageLock } from "../kit/body.js";
import { encodeDoc, fileKey, metaKey, readDoc } from "./project-doc.js";
import { normalize, parseFilename, validateProject, type ParsedFilename } from "./simple.js";

const UPLOAD_LIMIT = 2 * 1024 * 1024 * 1024;

interface StoredUpload {
  key: string;
  filename: string;
  norm: string;
  version: string;
  size: number;
  digests: Record<string, string>;
}

/** The distribution file name of the `content` part, when it is one of the declared project and version (400 otherwise). */
function checkFile(filename: string, fields: Record<string, string>): ParsedFilename {
  const parsed = parseFilename(filename);
  if (!parsed) throw badRequest(`'${filename}' is not a wheel, sdist or egg file name`);
  if (fields.name && normalize(parsed.project) !== normalize(fields.name)) throw badRequest(`File '${filename}' does not belong to project '${fields.name}'`);
  if (fields.version && fields.version !== parsed.version && normalize(fields.version) !== normalize(parsed.version)) {
    throw badRequest(`File '${filename}' is not version '${fields.version}'`);
  }
  return parsed;
}

/** The parts of the multipart body: its form fields, and the `content` file stored into `target`. */
async function receive(req: FormatRequest, target: HostedTarget, type: string): Promise<{ fields: Record<string, string>; stored: StoredUpload | null }> {
  const fields: Record<string, string> = {};
  let stored: StoredUpload | null = null;
  let bb: Busboy.Busboy;
  try {
    bb = Busboy({ headers: { "content-type": type }, limits: { fileSize: UPLOAD_LIMIT, files: 1, fields: 200, fieldSize: 1024 * 1024 } });
  } catch (err) {
    throw badRequest(`Malformed multipart body: ${(err as Error).message}`);
  }
  const storing: Promise<void>[] = [];
  const bodies = new Set<PassThrough>();
  const done = new Promise<void>((resolve, reject) => {
    const aborted = () => {
      const err = badRequest("Upload aborted by the client");
      for (const b of bodies) b.destroy(err);
      reject(err);
    };
    req.body.once("aborted", aborted);
    req.body.once("error", aborted);
    bb.on("field", (name, value) => {
      fields[name] = value;
    });
    bb.on("file", (name, stream, info) => {
      if (name !== "content") {
        stream.resume();
        return;
      }
      const filename = (info.filename ?? "").split(/[\\/]/).pop() ?? "";
      let parsed: ParsedFilename;
      try {
        parsed = checkFile(filename, fields);
      } catch (err) {
        stream.resume();
        reject(err as Error);
        return;
      }
      const declared = fields.name;
      const norm = normalize(declared || parsed.project);
      const version = fields.version || parsed.version;
      const key = fileKey(norm, version, filename);
      const body = new PassThrough();
      let truncated = false;
      stream.on("limit", () => {
        truncated = true;
        body.destroy(payloadTooLarge("File too large"));
      });
      stream.on("error", (err) => body.destroy(err));
      bodies.add(body);
      stream.pipe(body);
      const expect: Record<string, string> = {};
      if (/^[0-9a-f]{64}$/i.test(fields.sha256_digest ?? "")) expect.sha256 = fields.sha256_digest.toLowerCase();
      if (/^[0-9a-f]{32}$/i.test(fields.md5_digest ?? "")) expect.md5 = fields.md5_digest.toLowerCase();
      const task = (async () => {
        validateProject(declared || parsed.project);
        if (await target.storage.exists(key)) {
          body.resume();
          throw conflict(`File '${filename}' already exists`);
        }
        const put = await target.storage.put(key, body, { expect, ifNotExists: true });
        if (truncated) throw payloadTooLarge("File too large");
        stored = { key, filename, norm, version, size: put.size, digests: { ...put.digests } };
      })();
      task.catch(() => undefined); // settled below; never an unhandled rejection
      storing.push(task);
    });
    bb.on("error", (err) => reject(badRequest(`Malformed multipart body: ${(err as Error).message}`)));
    bb.on("close", () => resolve());
  });
  req.body.pipe(bb);
  try {
    await done;
  } catch (err) {
    // Let the storage writes fail and discard their temp files before answering.
    await Promise.allSettled(storing);
    throw err;
  }
  const failed = (await Promise.allSettled(storing)).find((r) => r.status === "rejected");
  if (failed) {
    const err = (failed as PromiseRejectedResult).reason as Error;
    if (err instanceof DomainError) throw err;
    if (/digest|checksum|mismatch/i.test(String(err?.message))) throw badRequest(`Uploaded file does not match the declared digest: ${err.message}`);
    throw err;
  }
  return { fields, stored };
}

export async function upload(req: FormatRequest): Promise<OperationResult> {
  const target = await req.writeTarget();
  const type = req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) throw badRequest("Uploads must be multipart/form-data (twine legacy API)");
  const { fields, stored: s } = await receive(req, target, type);
  if (!s) throw badRequest("No 'content' file in the upload");
  if (fields[":action"] && fields[":action"] !== "file_upload") throw badRequest(`Unsupported :action '${fields[":action"]}'`);
  const { repo, storage } = target;
  const now = new Date();
  const listed = withPackageLock(req, target, s.norm, async () => {
    const doc = (await readDoc(storage, metaKey(s.norm))) ?? { name: fields.name || s.norm, files: [] };
    doc.files = doc.files.filter((f) => f.filename !== s.filename);
    doc.files.push({
      filename: s.filename,
      url: s.key,
      hashes: { sha256: s.digests.sha256 },
      requiresPython: fields.requires_python || null,
      uploadTime: now.toISOString(),
      size: s.size,
      version: s.version,
      yanked: false,
    });
    await storage.put(metaKey(s.norm), encodeDoc(doc));
  });
  // Not listed (e.g. a lock timeout, 503): drop the file so that the retry is not refused as a duplicate.
  await listed.catch(async (err: unknown) => {
    await storage.delete(s.key).catch(() => undefined);
    throw err;
  });
  await req.services.artifacts.record(repo, {
    path: s.key,
    name: fields.name || s.norm,
    version: s.version,
    size: s.size,
    checksums: s.digests,
    owner: req.actor.name,
    releasedAt: now,
  });
  return { status: 200, type: "text/plain", body: "OK" };
}
