// TRANSITIONAL: the environment of the format modules not yet ported to the format kit (the
// FormatModules of src/formats/registry.ts read it off RequestScope.app and their hook arguments).
// No service takes it: the composition root (src/main.ts) builds one for the repository port's
// legacy dispatch branch and for FormatHooks' legacy branch. Delete this file with
// src/formats/registry.ts once every format is a FormatPlugin.
import type { Config } from "./config.js";
import type { ArtifactRecords } from "./artifacts/records.js";
import type { AuthService } from "./auth/service.js";
import type { CooldownService } from "./cooldown/service.js";
import type { Database } from "./db/index.js";
import type { EventBus } from "./events/bus.js";
import type { FormatKit } from "./formats/kit/dispatch.js";
import type { Logger } from "./log.js";
import type { RepositoryService } from "./repositories/service.js";
import type { SettingsService } from "./settings/service.js";
import type { StorageService } from "./storage/service.js";

export interface AppContext {
  config: Config;
  log: Logger;
  db: Database;
  bus: EventBus;
  auth: AuthService;
  settings: SettingsService;
  repositories: RepositoryService;
  storages: StorageService;
  /** The artifacts index (record / remove / find). */
  artifacts: ArtifactRecords;
  cooldown: CooldownService;
  kit: FormatKit;
}
