// Pushes: manifests (PUT, DELETE), blob deletes, and blob uploads (monolithic, chunked, cross-
// repository mounts), into the hosted store the repository's kind sends pushes to.
import type { Reply } from "../kit/contract.js";
import { empty, hasBody, type OciCall } from "./call.js";
import { parseDigest, requireDigest } from "./digest.js";
import { OciError, ociError } from "./errors.js";
import { MAX_MANIFEST_BYTES } from "./manifest.js";
import { parseV2Path } from "./names.js";
import { parseContentRange, uploadRange } from "./protocol.js";
import { pushTarget, resolveRepository, type PushTarget } from "./sources.js";
import { readAll } from "./store.js";

type Call<E extends OciCall["route"]["endpoint"]> = OciCall<Extract<OciCall["route"], { endpoint: E }>>;

const tagPath = (image: string, tag: string) => `${image}/_manifests/tags/${tag}`;

export async function putManifest(call: Call<"manifest">): Promise<Reply> {
  const { image, reference } = call.route;
  const { store, repo: hostedRepo } = await pushTarget(call.env, call.repo);
  const body = await readAll(call.body, MAX_MANIFEST_BYTES);
  const { digest, parsed } = await store.putManifest(image, reference, body, call.header("content-type"), { verifyBlobs: true });
  if (!parseDigest(reference)) {
    const size = body.length + parsed.blobs.reduce((n, b) => n + b.size, 0) + parsed.manifests.reduce((n, m) => n + m.size, 0);
    await call.env.services.artifacts.record(hostedRepo, {
      path: tagPath(image, reference),
      name: image,
      version: reference,
      size,
      owner: call.actor.name,
      checksums: { sha256: digest.replace(/^sha256:/, "") },
      releasedAt: null,
    });
  }
  call.headers.Location = `/v2/${call.repo.name}/${image}/manifests/${digest}`;
  call.headers["Docker-Content-Digest"] = digest;
  if (parsed.subject) call.headers["OCI-Subject"] = parsed.subject.digest;
  return empty(call, 201);
}

export async function deleteManifest(call: Call<"manifest">): Promise<Reply> {
  const { image, reference } = call.route;
  const { store, repo: hostedRepo } = await pushTarget(call.env, call.repo);
  const removedTags = await store.deleteManifest(image, reference);
  if (!removedTags) throw ociError("MANIFEST_UNKNOWN", `Manifest '${reference}' of '${image}' is unknown`, { name: image, reference });
  for (const tag of removedTags) await call.env.services.artifacts.forget(hostedRepo, tagPath(image, tag));
  return empty(call, 202);
}

export async function deleteBlob(call: Call<"blob">): Promise<Reply> {
  const { digest } = call.route;
  requireDigest(digest);
  const { store } = await pushTarget(call.env, call.repo);
  if (!(await store.deleteBlob(digest))) throw ociError("BLOB_UNKNOWN", `Blob ${digest} is unknown`, { digest });
  return empty(call, 202);
}

const uploadLocation = (call: OciCall, id: string) => `/v2/${call.repo.name}/${call.route.image}/blobs/uploads/${id}`;

function blobCreated(call: OciCall, digest: string): Reply {
  call.headers.Location = `/v2/${call.repo.name}/${call.route.image}/blobs/${digest}`;
  call.headers["Docker-Content-Digest"] = digest;
  return empty(call, 201);
}

/** POST .../blobs/uploads/: a mount from another repository, a monolithic upload (?digest=), or a new session. */
export async function startUpload(call: Call<"upload-start">): Promise<Reply> {
  const { store } = await pushTarget(call.env, call.repo);
  const mount = call.query.get("mount") ?? undefined;
  const from = call.query.get("from") ?? undefined;
  if (mount) {
    requireDigest(mount);
    if (await store.statBlob(mount)) return blobCreated(call, mount);
    if (await mountFrom(call, store, from, mount)) return blobCreated(call, mount);
    // Mount not possible: fall back to a regular upload session, as the spec requires.
  }
  const digest = call.query.get("digest") ?? undefined;
  if (digest !== undefined && !mount) {
    requireDigest(digest);
    await store.putBlob(digest, call.body);
    return blobCreated(call, digest);
  }
  const id = await store.startUpload(call.route.image);
  call.env.sweepUploads(call.repo.name, store);
  Object.assign(call.headers, { Location: uploadLocation(call, id), Range: "0-0", "Docker-Upload-UUID": id, "OCI-Chunk-Min-Length": "0" });
  return empty(call, 202);
}

/** Copies blob `digest` from repository `from` (`<repo>/<image>`) when the caller may read it there. */
async function mountFrom(call: OciCall, store: PushTarget["store"], from: string | undefined, digest: string): Promise<boolean> {
  const fromRoute = from ? parseV2Path(`/${from}/tags/list`) : null;
  if (!fromRoute || !("endpoint" in fromRoute) || fromRoute.endpoint !== "tags") return false;
  if (!call.actor.permissions.allowsRepository(fromRoute.repo, "read")) return false;
  const src = await call.env.findRepository(fromRoute.repo);
  if (!src || src.format !== "docker") return false;
  const { source } = await resolveRepository(call.env, src);
  const blob = await source.blob(fromRoute.image, digest);
  if (!blob) return false;
  await store.putBlob(digest, blob.stream);
  return true;
}

/** An upload session of this image, in the store pushes go to. */
export interface UploadSession {
  store: PushTarget["store"];
  id: string;
  size: number;
}

export async function uploadSession(call: Call<"upload">): Promise<UploadSession> {
  const { id, image } = call.route;
  const { store } = await pushTarget(call.env, call.repo);
  const state = await store.uploadState(id);
  if (!state || state.image !== image) throw ociError("BLOB_UPLOAD_UNKNOWN", `Upload ${id} is unknown`, { uuid: id });
  return { store, id, size: state.size };
}

function progress(call: OciCall, s: UploadSession, size: number, status: number): Reply {
  Object.assign(call.headers, { Location: uploadLocation(call, s.id), Range: uploadRange(size), "Docker-Upload-UUID": s.id });
  return empty(call, status);
}

export const uploadStatus = (call: Call<"upload">, s: UploadSession): Promise<Reply> => Promise.resolve(progress(call, s, s.size, 204));

export async function cancelUpload(call: Call<"upload">, s: UploadSession): Promise<Reply> {
  await s.store.cancelUpload(s.id);
  return empty(call, 204);
}

export async function appendChunk(call: Call<"upload">, s: UploadSession): Promise<Reply> {
  const cr = parseContentRange(call.header("content-range") || undefined);
  if (cr && cr.start !== s.size) {
    Object.assign(call.headers, { Location: uploadLocation(call, s.id), Range: uploadRange(s.size) });
    throw ociError("RANGE_INVALID", `Chunk starts at ${cr.start} but the upload holds ${s.size} bytes`, { size: s.size }, 416);
  }
  const added = await s.store.appendUpload(s.id, s.size, call.body);
  if (cr && cr.end - cr.start + 1 !== added) {
    throw ociError("SIZE_INVALID", `Content-Range announced ${cr.end - cr.start + 1} bytes but ${added} arrived`, undefined, 416);
  }
  return progress(call, s, s.size + added, 202);
}

/** PUT ...?digest=: the last chunk (if any), then the blob is published under its verified digest. */
export async function completeUpload(call: Call<"upload">, s: UploadSession): Promise<Reply> {
  const digest = call.query.get("digest") ?? undefined;
  requireDigest(digest);
  if (hasBody(call)) {
    const cr = parseContentRange(call.header("content-range") || undefined);
    if (cr && cr.start !== s.size) throw ociError("RANGE_INVALID", `Chunk starts at ${cr.start} but the upload holds ${s.size} bytes`, { size: s.size }, 416);
    await s.store.appendUpload(s.id, s.size, call.body);
  }
  await s.store.completeUpload(s.id, digest!).catch(async (err) => {
    if (err instanceof OciError && err.code === "DIGEST_INVALID") await s.store.cancelUpload(s.id);
    throw err;
  });
  return blobCreated(call, digest!);
}
