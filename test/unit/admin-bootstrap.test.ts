// First start without PANTERA_ADMIN_PASSWORD: the admin's password is generated into
// <data>/admin-password (never logged), and a file left by an earlier start is honoured.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config.js";
import { composeNode } from "../../src/main.js";
import type { Logger } from "../../src/log.js";

/** A logger that keeps every line it is given. */
function recordingLogger(lines: string[]): Logger {
  const rec = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
}

async function boot(dataDir: string, lines: string[] = []) {
  const config = loadConfig({ PANTERA_DATA_DIR: dataDir }, { host: "127.0.0.1", apiPort: 0, repoPort: 0, metricsPort: 0, databaseUrl: undefined });
  return composeNode(config, recordingLogger(lines));
}

describe("admin bootstrap", () => {
  it("writes a generated password to <data>/admin-password (mode 600), not to the log", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-boot-"));
    const lines: string[] = [];
    const node = await boot(dir, lines);
    try {
      const file = path.join(dir, "admin-password");
      const password = readFileSync(file, "utf8").trim();
      assert.ok(password.length >= 12);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok((await node.services.auth.login("admin", password)).token);
      assert.ok(!lines.some((l) => l.includes(password)), "the password is not logged");
      assert.ok(
        lines.some((l) => l.includes("admin-password")),
        "the log says where it is",
      );
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses the password of an admin-password file left by an earlier start", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pantera-boot-"));
    writeFileSync(path.join(dir, "admin-password"), "left-over-secret\n");
    const node = await boot(dir);
    try {
      assert.ok((await node.services.auth.login("admin", "left-over-secret")).token);
    } finally {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
