// File repositories' config: the common fields only (storage, remotes, members, cache TTLs).
import { configSchema } from "../kit/config.js";

export const fileConfig = configSchema("File");
