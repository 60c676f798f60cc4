-- External identities keyed by (provider, subject), the source of each user-role link, and the
-- server-side state of SSO redirects (PKCE verifier and nonce), shared by every node.

-- "" marks a manual grant; a provider name marks a link made by that provider's group-roles
-- mapping, the only links an SSO login re-syncs.
ALTER TABLE "user_roles" ADD COLUMN "source" TEXT NOT NULL DEFAULT '';

CREATE TABLE "external_identities" (
    "provider" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_login_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "external_identities_pkey" PRIMARY KEY ("provider", "subject"),
    CONSTRAINT "external_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "external_identities_user_id_provider_key" ON "external_identities"("user_id", "provider");

-- Users an SSO login provisioned before this migration were matched by name; they keep working
-- only once linked again (first login after the upgrade is refused as a name clash otherwise), so
-- link each to its provider by its name, which is what the old code keyed them by.
INSERT INTO "external_identities" ("provider", "subject", "user_id")
SELECT u."auth_type", 'name:' || u."name", u."id" FROM "users" u WHERE u."auth_type" IN ('okta', 'keycloak');

CREATE TABLE "sso_states" (
    "state" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "redirect_uri" TEXT NOT NULL,
    "verifier" TEXT,
    "nonce" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    CONSTRAINT "sso_states_pkey" PRIMARY KEY ("state")
);
CREATE INDEX "sso_states_expires_at_idx" ON "sso_states"("expires_at");
