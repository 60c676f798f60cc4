// Docker (OCI) repositories' config: the common fields only.
import { configSchema } from "../kit/config.js";

export const dockerConfig = configSchema("Docker");
