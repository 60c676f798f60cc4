// The storage driver contract: a driver parses and validates the config of the aliases of its
// type and builds their storages. Drivers are registered in a StorageDriverRegistry that the
// composition root builds and hands to StorageService (no module-level registry).
import { badRequest } from "../errors.js";
import { isObject } from "../json.js";
import type { SmallFileCache } from "./file-cache.js";
import type { Storage } from "./types.js";

/** An alias config as stored and listed: JSON with the driver's `type`. */
export type AliasConfig = Record<string, unknown> & { type: string };

/** What a config's meaning may depend on. */
export interface ConfigContext {
  /** The node's data directory: relative fs paths are resolved against it. */
  dataDir: string;
}

/** What a node gives every driver it builds. */
export interface DriverEnv {
  /** The node's small-file cache (fs driver; see file-cache.ts). */
  fileCache: SmallFileCache;
}

export interface StorageDriver<C = unknown> {
  /** The alias `type` this driver serves. */
  readonly type: string;
  /** The typed config of an alias of this type; bad input throws badRequest naming the field. */
  parseConfig(raw: AliasConfig, ctx: ConfigContext): C;
  /** The JSON kept for an accepted alias (default: as sent), e.g. with a path made absolute. */
  storedConfig?(raw: AliasConfig, config: C): AliasConfig;
  create(config: C, env: DriverEnv): Storage;
}

/** "fs, s3 or gcs": the supported types, for error messages. */
const alternatives = (types: string[]) => (types.length > 1 ? `${types.slice(0, -1).join(", ")} or ${types[types.length - 1]}` : (types[0] ?? "none"));

export class StorageDriverRegistry {
  private readonly drivers = new Map<string, StorageDriver>();

  constructor(drivers: Iterable<StorageDriver> = []) {
    for (const d of drivers) this.register(d);
  }

  register(driver: StorageDriver): void {
    if (this.drivers.has(driver.type)) throw new Error(`A storage driver for type '${driver.type}' is already registered`);
    this.drivers.set(driver.type, driver);
  }

  get(type: string): StorageDriver | undefined {
    return this.drivers.get(type);
  }

  /** Registered types, in registration order. */
  types(): string[] {
    return [...this.drivers.keys()];
  }

  /** Validates a client's alias config against its driver: the JSON to store (400 on bad input). */
  validate(raw: unknown, ctx: ConfigContext): AliasConfig {
    if (!isObject(raw)) throw badRequest("Storage config must be a JSON object");
    const type = raw.type;
    if (typeof type !== "string" || !type) throw badRequest(`Storage config needs a 'type' (${alternatives(this.types())})`);
    const driver = this.drivers.get(type);
    if (!driver) throw badRequest(`Unknown storage type '${type}'; known: ${this.types().join(", ")}`);
    const config = { ...raw, type };
    const parsed = driver.parseConfig(config, ctx);
    return driver.storedConfig ? driver.storedConfig(config, parsed) : config;
  }
}
