// Pulls: manifests and blobs (GET/HEAD, blob byte ranges), tag lists and referrers, read through
// whatever source the repository resolves to (hosted, proxy, group).
import type { Reply } from "../kit/contract.js";
import type { OciCall } from "./call.js";
import { requireDigest } from "./digest.js";
import { ociError } from "./errors.js";
import { MEDIA } from "./manifest.js";
import { linkHeader, paginate, parsePageSize } from "./protocol.js";
import { resolveRepository } from "./sources.js";

type Call<E extends OciCall["route"]["endpoint"]> = OciCall<Extract<OciCall["route"], { endpoint: E }>>;

export async function getManifest(call: Call<"manifest">): Promise<Reply> {
  const { image, reference } = call.route;
  const { source } = await resolveRepository(call.env, call.repo);
  const m = await source.manifest(image, reference);
  if (!m) throw ociError("MANIFEST_UNKNOWN", `Manifest '${reference}' of '${image}' is unknown`, { name: image, reference });
  // HEAD: the same headers (Content-Length included); the body is not sent.
  return { status: 200, headers: { ...call.headers, "Docker-Content-Digest": m.digest, ETag: `"${m.digest}"` }, type: m.mediaType, body: m.body };
}

/** `bytes=<start>-<end?>`; anything else is a request for the whole blob. */
function parseRange(header: string | undefined): { start: number; end?: number } | undefined {
  const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: m[2] ? Number(m[2]) : undefined };
}

export async function headBlob(call: Call<"blob">): Promise<Reply> {
  const { image, digest } = call.route;
  requireDigest(digest);
  const { source } = await resolveRepository(call.env, call.repo);
  const size = await source.blobSize(image, digest);
  if (size === null) throw ociError("BLOB_UNKNOWN", `Blob ${digest} is unknown`, { digest });
  return {
    status: 200,
    headers: { ...call.headers, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes" },
    type: "application/octet-stream",
    body: null,
    length: size,
  };
}

export async function getBlob(call: Call<"blob">): Promise<Reply> {
  const { image, digest } = call.route;
  requireDigest(digest);
  const { source } = await resolveRepository(call.env, call.repo);
  const b = await source.blob(image, digest, parseRange(call.header("range")));
  if (!b) throw ociError("BLOB_UNKNOWN", `Blob ${digest} is unknown`, { digest });
  const headers: Record<string, string> = { ...call.headers, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes" };
  const body = b.data ?? b.stream;
  if (!b.range) return { status: 200, headers, type: "application/octet-stream", body, length: b.size };
  headers["Content-Range"] = `bytes ${b.range.start}-${b.range.end}/${b.size}`;
  return { status: 206, headers, type: "application/octet-stream", body, length: b.range.end - b.range.start + 1 };
}

export async function listTags(call: Call<"tags">): Promise<Reply> {
  const { repo, route } = call;
  const n = parsePageSize(call.query.get("n") ?? undefined);
  const last = call.query.get("last") ?? undefined;
  const { source } = await resolveRepository(call.env, repo);
  const all = await source.tags(route.image);
  if (!all) throw ociError("NAME_UNKNOWN", `Image '${route.image}' is unknown in '${repo.name}'`, { name: `${repo.name}/${route.image}` });
  const page = paginate(all, n, last);
  const headers = { ...call.headers };
  if (page.next !== undefined && n !== undefined) headers.Link = linkHeader(`/v2/${repo.name}/${route.image}/tags/list`, n, page.next);
  return { status: 200, headers, body: { name: `${repo.name}/${route.image}`, tags: page.items } };
}

export async function listReferrers(call: Call<"referrers">): Promise<Reply> {
  const { image, digest } = call.route;
  requireDigest(digest);
  const { source } = await resolveRepository(call.env, call.repo);
  let list = await source.referrers(image, digest);
  const headers = { ...call.headers };
  const artifactType = call.query.get("artifactType");
  if (artifactType) {
    list = list.filter((d) => d.artifactType === artifactType);
    headers["OCI-Filters-Applied"] = "artifactType";
  }
  return { status: 200, headers, type: MEDIA.ociIndex, body: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: list }) };
}
