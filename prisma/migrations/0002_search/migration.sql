-- Search over the artifacts index (issue 5).
-- Full-text: a generated tsvector (name weight A, version B, path segments C) with a GIN index.
-- Partial names ("guav", "spring-boot-star") and the name:/version: substring filters use
-- pg_trgm GIN indexes, which serve ILIKE '%...%' on PostgreSQL and PGlite alike.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE "artifacts" ADD COLUMN "search_tsv" tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, "name"), 'A') ||
    setweight(to_tsvector('simple'::regconfig, "version"), 'B') ||
    setweight(to_tsvector('simple'::regconfig, regexp_replace("path", '[/._:@+-]+', ' ', 'g')), 'C')
) STORED;

CREATE INDEX "artifacts_search_tsv_idx" ON "artifacts" USING GIN ("search_tsv");
CREATE INDEX "artifacts_name_trgm_idx" ON "artifacts" USING GIN ("name" gin_trgm_ops);
CREATE INDEX "artifacts_version_trgm_idx" ON "artifacts" USING GIN ("version" gin_trgm_ops);
CREATE INDEX "artifacts_repo_type_idx" ON "artifacts" ("repo_type");
CREATE INDEX "artifacts_indexed_at_idx" ON "artifacts" ("indexed_at");
