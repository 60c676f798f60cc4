// Behaviour that differs by repository kind, declared by a format as one part per kind and picked
// here: formats never branch on the kind themselves (the dispatcher does the same for `byKind`).
import type { RepositoryKind, RepositoryRecord } from "../../repositories/types.js";

/** One part per repository kind. */
export type KindParts<T> = Record<RepositoryKind, T>;

/** The part `parts` declares for the kind of `repo`. */
export function forKind<T>(repo: Pick<RepositoryRecord, "kind">, parts: KindParts<T>): T {
  return parts[repo.kind];
}
