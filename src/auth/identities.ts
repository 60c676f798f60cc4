// Users proven by an external provider (SSO callback, Keycloak/Okta password login), keyed by
// (provider, subject). A name only names the account created on the first login: a local user or
// another provider's user with the same name is never taken over.
import type { PrismaClient } from "../db/index.js";
import { badRequest, conflict, notFound, unauthorized } from "../errors.js";
import type { EventBus } from "../events/bus.js";
import { validatePrincipalName } from "../names.js";
import { requireApi, type Principal } from "./permissions.js";

/** Providers whose accounts become external identities (SSO and password logins). */
export const SSO_PROVIDERS = ["okta", "keycloak"] as const;

export interface ExternalClaims {
  /** The id_token's `sub`: stable and unique per provider, unlike a user name. */
  subject: string;
  username: string;
  email?: string;
  groups: string[];
}

/** Provider config keys that shape provisioning. */
export interface ProvisioningConfig {
  /** IdP group -> Pantera role name. */
  groupRoles: Record<string, string>;
}

/** The user behind (provider, subject), created just in time; roles from the provider's mapping re-synced. */
export async function provisionExternalUser(
  prisma: PrismaClient,
  bus: EventBus,
  provider: string,
  claims: ExternalClaims,
  cfg: ProvisioningConfig,
): Promise<{ id: string; name: string; created: boolean }> {
  const { subject, username, groups } = claims;
  const email = claims.email || undefined;
  let identity = await prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } }, include: { user: true } });
  if (!identity) identity = await claimLegacyLink(prisma, provider, subject, username);
  let user = identity?.user;
  let created = false;
  if (user) {
    user = await prisma.user.update({ where: { id: user.id }, data: { email, groups, context: provider } });
    await prisma.externalIdentity.update({ where: { provider_subject: { provider, subject } }, data: { lastLoginAt: new Date() } });
  } else {
    try {
      validatePrincipalName("User", username);
    } catch {
      throw unauthorized(`The ${provider} account's user name is not a valid Pantera user name`);
    }
    if (await prisma.user.findUnique({ where: { name: username }, select: { id: true } })) throw nameTaken(provider, username);
    try {
      user = await prisma.user.create({
        data: {
          name: username,
          email: email ?? null,
          authType: provider,
          context: provider,
          groups,
          identities: { create: [{ provider, subject }] },
        },
      });
      created = true;
    } catch (err) {
      // Unique name: someone took the name in between; unique (provider, subject): a parallel
      // first login of the same person won, and this login can simply use its account.
      const again = await prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } }, include: { user: true } });
      if (!again) throw nameTaken(provider, username, err);
      user = again.user;
    }
  }
  if (!user.enabled) throw unauthorized(`User '${user.name}' is disabled`);
  await syncProviderRoles(prisma, user.id, provider, groups, cfg.groupRoles);
  await bus.publish({ type: "user.changed", userId: user.id });
  return { id: user.id, name: user.name, created };
}

function nameTaken(provider: string, username: string, cause?: unknown) {
  const err = conflict(
    `A Pantera user named '${username}' already exists and is not linked to this ${provider} account; ` +
      "an administrator must link the account to that user (linkExternalIdentity) or remove the user before it can sign in",
  );
  if (cause) (err as { cause?: unknown }).cause = cause;
  return err;
}

/**
 * Users provisioned before identities were keyed by subject were linked by migration 0004 as
 * (provider, "name:<user name>"); the first login of that provider's account with that name
 * re-keys the link to its real subject. Another provider's account never matches it.
 */
async function claimLegacyLink(prisma: PrismaClient, provider: string, subject: string, username: string) {
  const legacy = { provider, subject: `name:${username}` };
  const claimed = await prisma.externalIdentity.updateMany({ where: legacy, data: { subject } });
  if (claimed.count === 0) return null;
  return prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } }, include: { user: true } });
}

/**
 * Replaces the links this provider's mapping made by the ones it makes now; manual grants
 * (source "") and other providers' links stay. A role already granted by hand keeps its manual source.
 */
async function syncProviderRoles(prisma: PrismaClient, userId: string, provider: string, groups: string[], mapping: Record<string, string>) {
  const names = [...new Set(groups.map((g) => mapping[g]).filter((n): n is string => typeof n === "string" && n.length > 0))];
  const roles = names.length ? await prisma.role.findMany({ where: { name: { in: names } }, select: { id: true } }) : [];
  const ids = roles.map((r) => r.id);
  await prisma.$transaction([
    prisma.userRole.deleteMany({ where: { userId, source: provider, roleId: { notIn: ids } } }),
    prisma.userRole.createMany({ data: ids.map((roleId) => ({ userId, roleId, source: provider })), skipDuplicates: true }),
  ]);
}

/**
 * The explicit admin action that lets an IdP account sign in as an existing user (a local one, or
 * another provider's): links (provider, subject) to `username`, replacing that user's earlier
 * link to the same provider. A subject linked to someone else is a 409, never moved silently.
 */
export async function linkExternalIdentity(
  prisma: PrismaClient,
  bus: EventBus,
  actor: Principal | null,
  username: string,
  provider: string,
  subject: string,
): Promise<void> {
  requireApi(actor, "api_user_permissions", "update");
  if (!(SSO_PROVIDERS as readonly string[]).includes(provider)) throw badRequest(`'provider' must be one of ${SSO_PROVIDERS.join(", ")}`);
  if (!subject || subject.length > 255) throw badRequest("'subject' must be the account's id_token subject (1-255 characters)");
  const user = await prisma.user.findUnique({ where: { name: username }, select: { id: true } });
  if (!user) throw notFound(`User '${username}' not found`);
  const taken = await prisma.externalIdentity.findUnique({ where: { provider_subject: { provider, subject } } });
  if (taken && taken.userId !== user.id) throw conflict(`That ${provider} account is already linked to another user`);
  if (taken) return;
  await prisma.$transaction([
    prisma.externalIdentity.deleteMany({ where: { userId: user.id, provider } }),
    prisma.externalIdentity.create({ data: { provider, subject, userId: user.id } }),
  ]);
  await bus.publish({ type: "user.changed", userId: user.id });
}
