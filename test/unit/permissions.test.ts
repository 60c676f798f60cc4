import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Permissions, validatePermissions, requireApi, type Principal } from "../../src/auth/permissions.js";
import { DomainError } from "../../src/errors.js";

const principal = (grants: Record<string, unknown>[]): Principal => ({
  userId: "u",
  name: "u",
  email: null,
  context: "local",
  authType: "plain",
  groups: [],
  roles: [],
  permissions: new Permissions(grants),
  via: "access",
});

describe("Permissions", () => {
  it("'*': ['*'] is the superuser grant", () => {
    const p = new Permissions([{ "*": ["*"] }]);
    assert.equal(p.allowsApi("api_user_permissions", "delete"), true);
    assert.equal(p.allowsRepository("anything", "delete"), true);
    assert.equal(p.canDeleteArtifacts, true);
  });

  it("'*' with read actions grants repositories, not API domains", () => {
    const p = new Permissions([{ "*": ["read", "download"] }]);
    assert.equal(p.allowsRepository("maven-central", "read"), true);
    assert.equal(p.allowsRepository("maven-central", "write"), false);
    assert.equal(p.allowsApi("api_repository_permissions", "read"), false);
    assert.equal(p.canDeleteArtifacts, false);
  });

  it("treats download/upload as read/write and unions roles", () => {
    const p = new Permissions([{ "npm-local": ["download"] }, { "npm-local": ["upload"], api_search_permissions: ["read"] }]);
    assert.equal(p.allowsRepository("npm-local", "read"), true);
    assert.equal(p.allowsRepository("npm-local", "write"), true);
    assert.equal(p.allowsRepository("npm-local", "delete"), false);
    assert.equal(p.allowsRepository("other", "read"), false);
    assert.deepEqual(p.apiActions("api_search_permissions"), ["read"]);
  });

  it("supports domain wildcards and the nested adapter_basic_permissions form", () => {
    const p = new Permissions([{ api_role_permissions: ["*"], adapter_basic_permissions: { "pypi-local": ["read"] }, can_delete_artifacts: true }]);
    assert.deepEqual(p.apiActions("api_role_permissions"), ["read", "create", "update", "delete", "enable"]);
    assert.equal(p.allowsRepository("pypi-local", "read"), true);
    assert.equal(p.canDeleteArtifacts, true);
  });

  it("lists readable repositories for SQL filters", () => {
    assert.deepEqual(new Permissions([{ a: ["read"], b: ["write"] }]).repositoryNamesWith("read"), { all: false, names: ["a"] });
    assert.deepEqual(new Permissions([{ "*": ["read"] }]).repositoryNamesWith("read"), { all: true, names: [] });
  });

  it("renders the /auth/me permissions object", () => {
    const json = new Permissions([{ api_user_permissions: ["read"] }]).toJSON() as Record<string, unknown>;
    assert.deepEqual(json.api_user_permissions, ["read"]);
    assert.deepEqual(json.api_role_permissions, []);
    assert.equal(json.can_delete_artifacts, false);
  });

  it("requireApi: 401 without a caller, 403 without the action", () => {
    assert.throws(
      () => requireApi(null, "api_user_permissions", "read"),
      (e: DomainError) => e.code === "UNAUTHORIZED",
    );
    assert.throws(
      () => requireApi(principal([]), "api_user_permissions", "read"),
      (e: DomainError) => e.code === "FORBIDDEN",
    );
    assert.equal(requireApi(principal([{ api_user_permissions: ["read"] }]), "api_user_permissions", "read").name, "u");
  });
});

describe("validatePermissions", () => {
  const bad = (input: unknown, pattern: RegExp) =>
    assert.throws(
      () => validatePermissions(input),
      (e: DomainError) => e.code === "BAD_REQUEST" && pattern.test(e.message),
    );

  it("accepts the documented shapes", () => {
    const ok = { "maven-central": ["read", "download"], "*": ["read"], api_user_permissions: ["read", "enable"], can_delete_artifacts: false };
    assert.deepEqual(validatePermissions(ok), ok);
  });

  it("rejects non-objects, unknown actions, unknown domains and wrong types", () => {
    bad([], /must be an object/);
    bad("x", /must be an object/);
    bad({ repo: "read" }, /list of action names/);
    bad({ repo: ["fly"] }, /Unknown action 'fly'/);
    bad({ api_user_permissions: ["move"] }, /Unknown action 'move'/);
    bad({ api_nonsense_permissions: ["read"] }, /Unknown API permission domain/);
    bad({ can_delete_artifacts: "yes" }, /boolean/);
  });
});
