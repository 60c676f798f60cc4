// npm repositories' config: the common fields only.
import { configSchema } from "../kit/config.js";

export const npmConfig = configSchema("Npm");
