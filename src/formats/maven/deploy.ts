// Writes to hosted repositories: deploys (PUT/POST, SNAPSHOT timestamped files included) with
// maven-metadata.xml regenerated from storage, uploaded checksums verified, and deletes.
import { badRequest, conflict, DomainError, notFound } from "../../errors.js";
import type { FormatRequest, HookTarget, Operation, OperationResult } from "../kit/contract.js";
import { readBody } from "../kit/body.js";
import { CHECKSUM_HEX_LENGTH, parseChecksumBody, type ChecksumCache } from "./checksum.js";
import { checksumOf, isMetadataFile, parseArtifactPath, type ArtifactCoordinates, type ChecksumAlg } from "./metadata.js";
import { refreshAfterDelete, refreshForArtifact, refreshForMetadata } from "./regenerate.js";
import { isSnapshot } from "./version.js";

const MAX_CHECKSUM_BODY = 4096;
const CREATED: OperationResult = { status: 201, body: "" };

/** The `groupId:artifactId` an artifact is indexed (and judged by cooldown) under. */
export const indexName = (c: ArtifactCoordinates) => `${c.groupId}:${c.artifactId}`;

async function drain(req: FormatRequest): Promise<void> {
  for await (const _ of req.body); // discard
}

/**
 * PUT of `<file>.<alg>`: the body (`<hex>` or `<hex>  <filename>`) must equal the stored file's
 * digest. Match: 201, nothing stored (the server serves its own digests). Mismatch: 400, and the
 * stored file is kept as it is: the checksum is a separate request that proves nothing about
 * which side is wrong, deleting would let one bad request destroy a good release (redeploys may be
 * disabled), and the client's deploy fails on the 400 anyway, so it can deploy again. No stored
 * file: 404 (clients such as mvn and Gradle upload a file before its checksums).
 */
async function deployChecksum(req: FormatRequest, t: HookTarget, checksums: ChecksumCache, sum: { base: string; alg: ChecksumAlg }): Promise<OperationResult> {
  const { path } = req;
  const body = await readBody(req, MAX_CHECKSUM_BODY).catch((err: unknown) => {
    // (the kit discards the rest of the body)
    throw err instanceof DomainError && err.code === "PAYLOAD_TOO_LARGE"
      ? badRequest(`'${path}' is not a ${sum.alg} checksum file: more than ${MAX_CHECKSUM_BODY} bytes`)
      : err;
  });
  const claimed = parseChecksumBody(body.toString("utf8"), sum.alg);
  if (!claimed)
    throw badRequest(`'${path}' is not a ${sum.alg} checksum: expected ${CHECKSUM_HEX_LENGTH[sum.alg]} hex digits, optionally followed by the file name`);
  const stat = await t.storage.stat(sum.base);
  if (!stat) throw notFound(`Cannot verify '${path}': '${sum.base}' is not deployed in repository '${t.repo.name}' (deploy the file before its checksums)`);
  const actual = await checksums.of(t.services, { repo: t.repo, storage: t.storage, key: sum.base, stat }, sum.alg);
  if (actual !== claimed) {
    t.services.log.warn("maven checksum mismatch", { repo: t.repo.name, path, alg: sum.alg });
    throw badRequest(
      `Checksum mismatch: the uploaded ${sum.alg} ${claimed} does not match the stored '${sum.base}'; the stored file is unchanged, deploy it again`,
    );
  }
  return CREATED;
}

/**
 * PUT/POST of a file. Checksums and metadata are computed by the server: an uploaded checksum of
 * a deployed file is verified against the stored file (then dropped); metadata and its checksums
 * are accepted and dropped, since the server regenerates maven-metadata.xml and the client's
 * digests of its own copy cannot match.
 */
export function deployOperation(checksums: ChecksumCache): Operation {
  return async (req) => {
    const target = await req.writeTarget();
    const t: HookTarget = { ...target, services: req.services };
    const { path } = req;
    if (!path || req.trailingSlash) throw badRequest("A file path is required");
    const sum = checksumOf(path);
    if (sum && !isMetadataFile(sum.base)) return deployChecksum(req, t, checksums, sum);
    if (sum || isMetadataFile(path)) {
      await drain(req);
      if (!sum) await refreshForMetadata(t, path, "delete");
      return CREATED;
    }
    const coords = parseArtifactPath(path);
    const release = coords && !coords.snapshotValue && !isSnapshot(coords.version);
    if (target.repo.config.allow_redeploy === false && release && (await t.storage.exists(path))) {
      await drain(req);
      throw conflict(`'${path}' is already deployed and redeploying releases is disabled`);
    }
    const put = await t.storage.put(path, req.body);
    await req.services.artifacts.record(t.repo, {
      path,
      name: coords ? indexName(coords) : path.slice(path.lastIndexOf("/") + 1),
      version: coords?.version ?? "",
      size: put.size,
      checksums: put.digests,
      owner: req.actor.name,
    });
    await refreshForArtifact(t, path);
    return CREATED;
  };
}

/**
 * DELETE of one file (the `delete` permission, as the management API asks). The route is a write:
 * the kit only lets it reach hosted repositories, whose own storage is the target.
 */
export async function removeOperation(req: FormatRequest): Promise<OperationResult> {
  req.require("delete");
  const { path, repo, storage } = req;
  if (!path) throw badRequest("A file path is required");
  if (!(await storage.delete(path))) throw notFound(`'${path}' not found in repository '${repo.name}'`);
  await req.services.artifacts.forget(repo, path);
  await refreshAfterDelete({ repo, storage, services: req.services }, path, false);
  return { status: 204 };
}
