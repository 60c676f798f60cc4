// Applies pending migrations to the configured database and exits (the server also does this at start).
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/index.js";

const config = loadConfig();
const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
await db.close();
console.log(`migrations applied (${db.kind})`);
