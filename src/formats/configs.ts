// The repository config schema of every built format, by format name (aliases included): one
// line per format. The GraphQL schema prints its typed config types from this list at build time,
// before any plugin is constructed; each plugin carries the same object as its `config`, and
// test/unit/config-schema.test.ts checks that this list and the registered plugins agree.
import type { ConfigSchema } from "./kit/config.js";
import { dockerConfig } from "./docker/config.js";
import { fileConfig } from "./file/config.js";
import { mavenConfig } from "./maven/config.js";
import { npmConfig } from "./npm/config.js";
import { pypiConfig } from "./pypi/config.js";

export const formatConfigs: Readonly<Record<string, ConfigSchema>> = {
  maven: mavenConfig,
  gradle: mavenConfig,
  npm: npmConfig,
  pypi: pypiConfig,
  docker: dockerConfig,
  file: fileConfig,
};
