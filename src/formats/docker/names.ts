// Parsing of /v2/... paths and validation of image names, tags and references.
import { parseDigest } from "./digest.js";

export const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Pantera repository names are looser than OCI components (validated by the repository service). */
const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export type V2Route =
  | { endpoint: "base" }
  | { endpoint: "catalog" }
  | { endpoint: "token" }
  | { endpoint: "tags"; repo: string; image: string }
  | { endpoint: "manifest"; repo: string; image: string; reference: string }
  | { endpoint: "blob"; repo: string; image: string; digest: string }
  | { endpoint: "upload-start"; repo: string; image: string }
  | { endpoint: "upload"; repo: string; image: string; id: string }
  | { endpoint: "referrers"; repo: string; image: string; digest: string };

export function isValidImageName(image: string): boolean {
  if (!image || image.length > 255) return false;
  return image.split("/").every((c) => COMPONENT_RE.test(c));
}

export const isValidTag = (tag: string) => TAG_RE.test(tag);
export const isValidReference = (ref: string) => isValidTag(ref) || parseDigest(ref) !== null;

/** Splits `<repo>/<image...>` into the Pantera repository and the image name inside it. */
export function splitName(name: string): { repo: string; image: string } | null {
  const slash = name.indexOf("/");
  if (slash <= 0) return null;
  const repo = name.slice(0, slash);
  const image = name.slice(slash + 1);
  if (!REPO_RE.test(repo)) return null;
  return { repo, image };
}

/**
 * Matches the path below /v2 (e.g. "/myrepo/lib/app/manifests/1.0"). Returns null when
 * no route matches, or { invalid } when the route matched but the name is malformed.
 */
export function parseV2Path(p: string): V2Route | { invalid: "name"; name: string } | null {
  if (p === "" || p === "/") return { endpoint: "base" };
  if (p === "/_catalog") return { endpoint: "catalog" };
  if (p === "/token") return { endpoint: "token" };
  const patterns: [RegExp, (m: RegExpExecArray, repo: string, image: string) => V2Route][] = [
    [/^\/(.+)\/tags\/list$/, (_m, repo, image) => ({ endpoint: "tags", repo, image })],
    [/^\/(.+)\/manifests\/([^/]+)$/, (m, repo, image) => ({ endpoint: "manifest", repo, image, reference: m[2] })],
    [/^\/(.+)\/blobs\/uploads\/?$/, (_m, repo, image) => ({ endpoint: "upload-start", repo, image })],
    [/^\/(.+)\/blobs\/uploads\/([^/]+)$/, (m, repo, image) => ({ endpoint: "upload", repo, image, id: m[2] })],
    [/^\/(.+)\/blobs\/([^/]+)$/, (m, repo, image) => ({ endpoint: "blob", repo, image, digest: m[2] })],
    [/^\/(.+)\/referrers\/([^/]+)$/, (m, repo, image) => ({ endpoint: "referrers", repo, image, digest: m[2] })],
  ];
  for (const [re, build] of patterns) {
    const m = re.exec(p);
    if (!m) continue;
    const split = splitName(m[1]);
    if (!split || !isValidImageName(split.image)) return { invalid: "name", name: m[1] };
    return build(m, split.repo, split.image);
  }
  return null;
}
