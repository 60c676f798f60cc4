// PyPI repositories' config: the common fields only.
import { configSchema } from "../kit/config.js";

export const pypiConfig = configSchema("Pypi");
