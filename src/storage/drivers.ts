// The storage drivers a node ships with, for the composition root to register.
import type { StorageDriver } from "./driver.js";
import { fsDriver } from "./fs.js";
import { s3Driver } from "./s3.js";

export function defaultStorageDrivers(): StorageDriver[] {
  return [fsDriver, s3Driver];
}
