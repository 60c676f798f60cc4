// Assembles the schema from one file per domain.
import { lexicographicSortSchema } from "graphql";
import { builder } from "./builder.js";
import "./system.js";
import "./auth.js";
import "./users.js";
import "./roles.js";
import "./artifacts.js";
import "./repositories.js";
import "./storage.js";
import "./settings.js";
import "./dashboard.js";
import "./search.js";
import "./cooldown.js";
import { auditMutations } from "./audit.js";

export const schema = auditMutations(lexicographicSortSchema(builder.toSchema()));
