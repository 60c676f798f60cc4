// FormatHooks: the kit-level rule for lifecycle hooks (afterDelete / afterImport on hosted
// repositories only, reindex on every kind but groups), and describe / pull instructions read
// from the registered plugin.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/log.js";
import { FormatHooks } from "../../src/formats/kit/hooks.js";
import { FormatRegistry } from "../../src/formats/kit/registry.js";
import { formatServices } from "../../src/formats/kit/services.js";
import type { FormatPlugin } from "../../src/formats/kit/contract.js";
import type { RepositoryKind, RepositoryRecord } from "../../src/repositories/types.js";
import { FsStorage } from "../../src/storage/fs.js";

const repo = (kind: RepositoryKind, format = "probe"): RepositoryRecord => ({
  name: `${format}-${kind}`,
  type: kind === "hosted" ? format : `${format}-${kind}`,
  format,
  kind,
  storage: "default",
  remotes: [],
  members: [],
  config: {},
});

describe("FormatHooks", () => {
  const calls: string[] = [];
  // A plugin whose hooks note what they were called for.
  const probe: FormatPlugin = {
    format: "probe",
    routes: [],
    operations: {},
    layout: { describe: (p) => (p.endsWith(".bin") ? { name: "thing", version: "1" } : null), isMetadata: () => false },
    pullInstructions: (r, p, base) => [`get ${base}/${p} from ${r.name}`],
    hooks: {
      afterDelete: async (t) => void calls.push(`afterDelete ${t.repo.kind} ${t.path} ${t.folder}`),
      afterImport: async (t) => void calls.push(`afterImport ${t.repo.kind} ${t.path}`),
      reindex: async (t) => void calls.push(`reindex ${t.repo.kind}`),
    },
  };
  const services = formatServices({
    log: createLogger("silent"),
    artifacts: {
      record: () => Promise.reject(new Error("not used")),
      remove: () => Promise.reject(new Error("not used")),
      find: () => Promise.resolve(null),
    },
    cooldown: {} as never,
    upstream: { fetch: () => Promise.reject(new Error("not used")) },
    withLock: (_k, fn) => fn(),
    dataDir: os.tmpdir(),
  });
  const hooks = new FormatHooks({ registry: new FormatRegistry([probe]), services });

  it("runs afterDelete and afterImport on hosted repositories only, reindex on all but groups, each with the kit's services", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-hooks-"));
    try {
      const storage = new FsStorage(dir);
      for (const kind of ["hosted", "proxy", "group"] as const) {
        await hooks.afterDelete(repo(kind), storage, "a/b.bin", false);
        await hooks.afterImport(repo(kind), storage, "a/c.bin");
        await hooks.reindex(repo(kind), storage);
      }
      assert.deepEqual(calls, ["afterDelete hosted a/b.bin false", "afterImport hosted a/c.bin", "reindex hosted", "reindex proxy"]);
      // A format no plugin serves has no hooks to run.
      await hooks.afterDelete(repo("hosted", "unbuilt"), storage, "x", true);
      await hooks.reindex(repo("hosted", "unbuilt"), storage);
      assert.equal(calls.length, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describes files and gives pull instructions through the plugin; undefined for a format no plugin serves", () => {
    assert.deepEqual(hooks.describe(repo("hosted"), "a/b.bin"), { name: "thing", version: "1" });
    assert.equal(hooks.describe(repo("hosted"), "a/meta.json"), null);
    assert.equal(hooks.describe(repo("hosted", "unbuilt"), "a/b.bin"), undefined);
    assert.deepEqual(hooks.pullInstructions(repo("proxy"), "a/b.bin", "http://h/r"), ["get http://h/r/a/b.bin from probe-proxy"]);
    assert.equal(hooks.pullInstructions(repo("hosted", "unbuilt"), "a/b.bin", "http://h/r"), undefined);
  });
});
