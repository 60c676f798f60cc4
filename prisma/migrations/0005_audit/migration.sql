-- Audit trail: one row per security-relevant or changing action (logins, tokens, users, roles,
-- repositories, storage, settings, auth providers, artifact uploads and deletes, cooldown unblocks).
-- Rows are read newest first, filtered by action, user, outcome, time range and target, and purged
-- by age (settings section audit.retention_days).
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "action" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "error_code" TEXT,
    "user_name" TEXT,
    "source_ip" TEXT NOT NULL DEFAULT '',
    "target" TEXT NOT NULL DEFAULT '',
    "details" JSONB NOT NULL DEFAULT '{}',
    "message" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_events_at_idx" ON "audit_events"("at");
CREATE INDEX "audit_events_action_at_idx" ON "audit_events"("action", "at");
CREATE INDEX "audit_events_user_name_at_idx" ON "audit_events"("user_name", "at");
CREATE INDEX "audit_events_outcome_at_idx" ON "audit_events"("outcome", "at");
-- The target filter matches a target or anything below it ('repo' finds 'repo/path/file'):
-- text_pattern_ops lets the prefix LIKE use the index under any collation.
CREATE INDEX "audit_events_target_idx" ON "audit_events"("target" text_pattern_ops);
