// The docker / OCI format. Clients use the OCI distribution API, which the kit mounts at /v2
// (api.ts); below /<repo>/ a docker repository only points clients there.
import { notFound } from "../../errors.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { FormatPlugin, FormatRequest } from "../kit/contract.js";
import type { AuthPort } from "./access.js";
import { createOciMount } from "./api.js";
import { dockerConfig } from "./config.js";
import { DockerEnv, type DockerDeps } from "./env.js";
import { isValidImageName } from "./names.js";

function host(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

/** Any request below /<repo>/: readers are told where the OCI API is; others get 401/403. */
function pointAtOciApi(req: FormatRequest): never {
  req.require("read");
  throw notFound(`Docker repository '${req.repo.name}' is served through the OCI API at /v2/${req.repo.name}/<image>/...`);
}

/** The parts of the docker format that need no services: the /<repo>/ answer, layout, pull instructions. */
export const dockerFormat: FormatPlugin = {
  format: "docker",
  config: dockerConfig,
  routes: [{ method: ["GET", "PUT", "POST", "PATCH", "DELETE"], path: /^\/.*$/, op: "pointAtOciApi" }],
  operations: { pointAtOciApi },
  layout: {
    /** Only tags are artifacts (blobs, revisions, uploads and referrer links are not). */
    describe(path) {
      const m = /^(.+)\/_manifests\/tags\/([^/]+)$/.exec(path);
      return m && isValidImageName(m[1]) ? { name: m[1], version: m[2] } : null;
    },
    isMetadata: () => false,
  },
  pullInstructions(repo: RepositoryRecord, path: string, baseUrl: string): string[] {
    // Index paths are storage keys: <image>/_manifests/tags/<tag> or <image>/_manifests/revisions/<alg>/<hex>;
    // <image>/manifests/<reference> (the API path) is accepted too.
    const m = /^(.+?)\/_?manifests\/(?:tags\/|revisions\/(sha256|sha512)\/)?([^/]+)$/.exec(path);
    const image = m ? m[1] : path.replace(/\/+$/, "");
    const reference = m ? (m[2] ? `${m[2]}:${m[3]}` : m[3]) : "latest";
    const ref = reference.includes(":") ? `@${reference}` : `:${reference}`;
    const h = host(baseUrl);
    return [`skopeo copy docker://${h}/${repo.name}/${image}${ref} oci:./${image.split("/").pop()}`, `docker pull ${h}/${repo.name}/${image}${ref}`];
  },
};

export interface DockerPluginDeps extends DockerDeps {
  /** Logins for /v2/token and the credentials docker clients send. */
  auth: AuthPort;
}

/** The docker plugin of one node: the format plus the /v2 mount, with its per-node upstream clients and downloads. */
export function createDockerPlugin(deps: DockerPluginDeps): FormatPlugin {
  return { ...dockerFormat, root: createOciMount(new DockerEnv(deps), deps.auth) };
}
