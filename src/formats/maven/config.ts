// Maven (and gradle) repositories' config: the common fields plus redeploy control.
import { configSchema, field } from "../kit/config.js";

export const mavenConfig = configSchema("Maven", {
  allow_redeploy: field.boolean({
    description: "false: a deploy over an existing release file answers 409 (snapshots may always be redeployed). Default true",
  }),
});
