// First start on an empty database: the admin user and the auth provider rows. Run by the
// composition root (src/main.ts) on every start; idempotent across nodes.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashPassword } from "./auth/passwords.js";
import type { Config } from "./config.js";
import type { Database } from "./db/index.js";
import type { Logger } from "./log.js";

export interface BootstrapDeps {
  config: Pick<Config, "adminPassword" | "dataDir">;
  db: Pick<Database, "prisma">;
  log: Logger;
}

/** First start on an empty database: an all-powerful admin and the auth provider rows. */
export async function bootstrap(deps: BootstrapDeps): Promise<void> {
  const { prisma } = deps.db;
  // Every start, not only the first: a database made before okta and keycloak had rows gets them,
  // disabled until configured (PUT /auth-providers/:id/config needs a row to target).
  await prisma.authProvider.createMany({
    data: [
      { type: "local", priority: 0, enabled: true, config: {} },
      { type: "okta", priority: 1, enabled: false, config: {} },
      { type: "keycloak", priority: 2, enabled: false, config: {} },
    ],
    skipDuplicates: true,
  });
  if ((await prisma.user.count()) > 0) return;
  let password = deps.config.adminPassword;
  const file = path.join(deps.config.dataDir, "admin-password");
  if (!password) {
    // A file left by an earlier start (say, against another database) keeps its password, so
    // what the file says is always the admin's password.
    password = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (!password) {
      password = randomBytes(12).toString("base64url");
      writeFileSync(file, password + "\n", { mode: 0o600 });
    }
  }
  const role = await prisma.role.upsert({ where: { name: "admin" }, create: { name: "admin", permissions: { "*": ["*"] } }, update: {} });
  const created = await prisma.user
    .create({ data: { name: "admin", passwordHash: await hashPassword(password), roles: { create: [{ roleId: role.id }] } } })
    .catch(() => null); // another node bootstrapped first
  if (created) {
    if (deps.config.adminPassword) deps.log.info("created user 'admin' with the password from PANTERA_ADMIN_PASSWORD");
    else deps.log.info(`created user 'admin'; its password is in ${file}`); // not the password itself: logs are shipped and kept
  }
}
