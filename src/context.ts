// TRANSITIONAL: the environment the old FormatModule infrastructure names (src/formats/types.ts
// RequestScope.app, src/formats/scope.ts, proxy.ts, package-helpers.ts, registry.ts,
// cooldown/formats.ts). Every format is a FormatPlugin now and nothing builds or takes one of
// these: the composition root is src/main.ts. Delete this file with that infrastructure.
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
