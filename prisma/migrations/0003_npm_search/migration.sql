-- npm search over hosted repositories (GET /<repo>/-/v1/search) from an index, not by reading
-- every packument per query. One row per package: the latest version's summary, kept by the npm
-- module whenever it writes or removes a packument. search_text is lower(name, description,
-- keywords) with a pg_trgm GIN index, which serves the per-term LIKE '%...%' filters.
-- Rows follow their repository through deletes and renames (foreign key on the unique name).
CREATE TABLE "npm_packages" (
    "repo_name" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "keywords" TEXT[] NOT NULL DEFAULT '{}',
    "published_at" TIMESTAMPTZ(3),
    "publisher" JSONB,
    "maintainers" JSONB NOT NULL DEFAULT '[]',
    "search_text" TEXT NOT NULL,
    "indexed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    CONSTRAINT "npm_packages_pkey" PRIMARY KEY ("repo_name", "name"),
    CONSTRAINT "npm_packages_repo_name_fkey" FOREIGN KEY ("repo_name") REFERENCES "repositories"("name") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "npm_packages_search_trgm_idx" ON "npm_packages" USING GIN ("search_text" gin_trgm_ops);

-- Repositories whose npm_packages rows are complete, and for which storage alias. Packuments
-- written before this migration (or a repository moved to another storage) are indexed from
-- storage once, on the next search.
CREATE TABLE "npm_search_ready" (
    "repo_name" TEXT NOT NULL,
    "storage" TEXT NOT NULL,
    CONSTRAINT "npm_search_ready_pkey" PRIMARY KEY ("repo_name"),
    CONSTRAINT "npm_search_ready_repo_name_fkey" FOREIGN KEY ("repo_name") REFERENCES "repositories"("name") ON DELETE CASCADE ON UPDATE CASCADE
);
