// Manifest and image-index parsing and validation (OCI image spec + Docker schema 2).
import { parseDigest } from "./digest.js";
import { ociError } from "./errors.js";

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  emptyJson: "application/vnd.oci.empty.v1+json",
} as const;

export const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList];
export const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerList];
/** Largest manifest accepted (the spec lets registries refuse above 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: unknown;
}

export interface ParsedManifest {
  mediaType: string;
  /** Whether the body names its mediaType itself (otherwise it came from Content-Type or the shape, and is stored beside it). */
  declaresMediaType: boolean;
  shape: "manifest" | "index";
  /** Blobs the manifest needs (config + layers); empty for indexes. */
  blobs: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
  config?: Descriptor;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw ociError("MANIFEST_INVALID", `${where} must be a descriptor object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || !d.mediaType) throw ociError("MANIFEST_INVALID", `${where}.mediaType must be a string`);
  if (typeof d.digest !== "string" || !parseDigest(d.digest)) throw ociError("MANIFEST_INVALID", `${where}.digest is not a valid digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
    throw ociError("MANIFEST_INVALID", `${where}.size must be a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (typeof d.artifactType === "string") out.artifactType = d.artifactType;
  if (d.annotations && typeof d.annotations === "object") out.annotations = d.annotations as Record<string, string>;
  if (d.platform !== undefined) out.platform = d.platform;
  return out;
}

/**
 * Parses and validates a manifest body. `contentType` is the request's Content-Type; it must
 * agree with the body's mediaType when both are present.
 */
export function parseManifest(body: Buffer, contentType?: string): ParsedManifest {
  if (body.length > MAX_MANIFEST_BYTES) throw ociError("MANIFEST_INVALID", `Manifest exceeds ${MAX_MANIFEST_BYTES} bytes`, undefined, 413);
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw ociError("MANIFEST_INVALID", "Manifest is not valid JSON");
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) throw ociError("MANIFEST_INVALID", "Manifest must be a JSON object");
  const m = json as Record<string, unknown>;
  const ct = contentType?.split(";")[0].trim().toLowerCase() || undefined;
  const declared = typeof m.mediaType === "string" ? m.mediaType : undefined;
  if (m.schemaVersion !== 2) throw ociError("MANIFEST_INVALID", "Only schemaVersion 2 manifests are supported");
  if (declared && ct && MANIFEST_TYPES.includes(ct) && declared !== ct) {
    throw ociError("MANIFEST_INVALID", `Content-Type '${ct}' does not match the manifest's mediaType '${declared}'`);
  }
  let mediaType = declared ?? (ct && MANIFEST_TYPES.includes(ct) ? ct : undefined);
  if (!mediaType) mediaType = Array.isArray(m.manifests) ? MEDIA.ociIndex : MEDIA.ociManifest;
  if (!MANIFEST_TYPES.includes(mediaType)) throw ociError("MANIFEST_INVALID", `Unsupported manifest media type '${mediaType}'`);
  const out: ParsedManifest = {
    mediaType,
    declaresMediaType: declared !== undefined,
    shape: INDEX_TYPES.includes(mediaType) ? "index" : "manifest",
    blobs: [],
    manifests: [],
  };
  if (m.subject !== undefined) out.subject = descriptor(m.subject, "subject");
  if (typeof m.artifactType === "string") out.artifactType = m.artifactType;
  if (m.annotations && typeof m.annotations === "object") out.annotations = m.annotations as Record<string, string>;
  if (out.shape === "index") {
    if (!Array.isArray(m.manifests)) throw ociError("MANIFEST_INVALID", "An image index needs a 'manifests' list");
    out.manifests = m.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
  } else {
    out.config = descriptor(m.config, "config");
    if (!Array.isArray(m.layers)) throw ociError("MANIFEST_INVALID", "An image manifest needs a 'layers' list");
    const layers = m.layers.map((d, i) => descriptor(d, `layers[${i}]`));
    out.blobs = [out.config, ...layers];
  }
  return out;
}

/** The artifact type reported by the referrers API (artifactType, else config.mediaType). */
export function referrerArtifactType(m: ParsedManifest): string | undefined {
  return m.artifactType ?? (m.config && m.config.mediaType !== MEDIA.emptyJson ? m.config.mediaType : m.config?.mediaType);
}

/** Release date of an image from its config blob (`created`), when parseable. */
export function configCreated(config: Buffer | string): Date | undefined {
  try {
    const created = (JSON.parse(config.toString()) as { created?: unknown }).created;
    if (typeof created !== "string") return undefined;
    const d = new Date(created);
    return Number.isNaN(d.getTime()) ? undefined : d;
  } catch {
    return undefined;
  }
}

/** Manifest media types a client accepts, from its Accept headers ('*' when absent). */
export function acceptedTypes(accept: string | string[] | undefined): string[] | "*" {
  const values = (Array.isArray(accept) ? accept : accept ? [accept] : []).flatMap((a) => a.split(","));
  const types = values.map((v) => v.split(";")[0].trim().toLowerCase()).filter(Boolean);
  if (types.length === 0 || types.includes("*/*")) return "*";
  return types;
}
