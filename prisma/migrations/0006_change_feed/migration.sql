-- Change feed: one row per change to a table whose rows nodes cache (repositories, settings, storage
-- aliases, auth providers, users, roles, user roles, API tokens). Triggers fill it, so every writer is
-- covered, and nodes poll it (src/cluster/change-feed.ts) to repair invalidations a missed Redis event
-- would have caused. `xid` is the writing transaction: a poller that re-reads every row of a transaction
-- not older than its previous snapshot's xmin cannot miss a row that committed late with a lower seq.
CREATE TABLE "change_log" (
    "seq" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "xid" XID8 NOT NULL DEFAULT pg_current_xact_id(),
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "change_log_pkey" PRIMARY KEY ("seq")
);
CREATE INDEX "change_log_xid_idx" ON "change_log"("xid");
CREATE INDEX "change_log_at_idx" ON "change_log"("at");

-- TG_ARGV[0] names the column that identifies the cached entry (the key a bus event carries). An
-- UPDATE that changes it (a repository move) logs the old and the new key.
CREATE FUNCTION "pantera_log_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_key TEXT;
    new_key TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> TG_ARGV[0];
        INSERT INTO "change_log" ("kind", "key") VALUES (TG_TABLE_NAME, COALESCE(old_key, ''));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> TG_ARGV[0];
        IF TG_OP = 'INSERT' OR new_key IS DISTINCT FROM old_key THEN
            INSERT INTO "change_log" ("kind", "key") VALUES (TG_TABLE_NAME, COALESCE(new_key, ''));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER "repositories_change_log" AFTER INSERT OR UPDATE OR DELETE ON "repositories"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('name');
CREATE TRIGGER "settings_change_log" AFTER INSERT OR UPDATE OR DELETE ON "settings"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('section');
CREATE TRIGGER "storage_aliases_change_log" AFTER INSERT OR UPDATE OR DELETE ON "storage_aliases"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('name');
CREATE TRIGGER "auth_providers_change_log" AFTER INSERT OR UPDATE OR DELETE ON "auth_providers"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('type');
CREATE TRIGGER "users_change_log" AFTER INSERT OR UPDATE OR DELETE ON "users"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('id');
CREATE TRIGGER "roles_change_log" AFTER INSERT OR UPDATE OR DELETE ON "roles"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('name');
CREATE TRIGGER "user_roles_change_log" AFTER INSERT OR UPDATE OR DELETE ON "user_roles"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('user_id');
-- Inserts do not change what a node cached about a token (an unknown hash is not remembered).
CREATE TRIGGER "api_tokens_change_log" AFTER UPDATE OR DELETE ON "api_tokens"
    FOR EACH ROW EXECUTE FUNCTION "pantera_log_change"('token_hash');
