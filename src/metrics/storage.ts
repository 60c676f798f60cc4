// Storage metrics read at scrape time: the fs driver's small-file cache of this node.
import { Counter, Gauge, type Registry } from "prom-client";
import type { SmallFileCache } from "../storage/file-cache.js";

export function registerFileCacheMetrics(registry: Registry, cache: SmallFileCache): void {
  if (registry.getSingleMetric("pantera_storage_file_cache_bytes")) return;
  new Gauge({
    name: "pantera_storage_file_cache_bytes",
    help: "Bytes of small stored files held in memory by this node",
    registers: [registry],
    collect() {
      this.set(cache.bytes);
    },
  });
  new Gauge({
    name: "pantera_storage_file_cache_entries",
    help: "Small stored files held in memory by this node",
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  new Counter({
    name: "pantera_storage_file_cache_hits_total",
    help: "Reads of small stored files answered from memory (after a stat showed the file unchanged)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(cache.hits);
    },
  });
  new Counter({
    name: "pantera_storage_file_cache_misses_total",
    help: "Reads of small stored files that went to the disk (first read, changed or evicted)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(cache.misses);
    },
  });
}
