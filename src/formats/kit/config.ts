// A format's repository configuration schema: validates the `repo` JSON of PUT /repositories
// and describes the format's GraphQL input and output types.
import type { RepositoryKind } from "../../repositories/types.js";

export interface ConfigSchema {
  /** Validates the config of a repository of `kind`; throws badRequest naming the offending field. */
  parse(raw: Record<string, unknown>, kind: RepositoryKind): Record<string, unknown>;
}
