// One request of the OCI distribution API as the endpoint handlers see it: the addressed
// repository and image, the caller, and the response headers gathered on the way (challenges,
// Location...), which go out with whatever reply or error ends the request.
import type { Readable } from "node:stream";
import type { Principal } from "../../auth/permissions.js";
import type { RepositoryRecord } from "../../repositories/types.js";
import type { Reply } from "../kit/contract.js";
import type { DockerEnv } from "./env.js";
import type { V2Route } from "./names.js";

/** The routes below /v2/<repo>/<image>/. */
export type RepoRoute = Exclude<V2Route, { endpoint: "base" } | { endpoint: "catalog" } | { endpoint: "token" }>;

export interface OciCall<R extends RepoRoute = RepoRoute> {
  readonly env: DockerEnv;
  readonly method: string;
  readonly query: URLSearchParams;
  header(name: string): string | undefined;
  readonly body: Readable;
  readonly actor: Principal;
  readonly repo: RepositoryRecord;
  readonly route: R;
  /** Response headers so far (sent with the reply, or with the error). */
  readonly headers: Record<string, string>;
}

export type Handler<R extends RepoRoute> = (call: OciCall<R>) => Promise<Reply>;

/** An endpoint below /v2/<repo>/<image>/: its handler per method, and how to name it in a 405. */
export interface Endpoint<R extends RepoRoute> {
  what: string;
  methods: Partial<Record<string, Handler<R>>>;
}

/** An empty reply with the gathered headers. */
export const empty = (call: OciCall, status: number): Reply => ({ status, headers: call.headers, body: "" });

/** Whether the request carries a body (a PUT that also sends the last chunk). */
export function hasBody(call: OciCall): boolean {
  const len = call.header("content-length");
  if (len) return Number(len) > 0;
  return !!call.header("transfer-encoding");
}
