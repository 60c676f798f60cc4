// User management: every rule and permission check for users lives here.
import type { Prisma, PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, notFound, unauthorized } from "../errors.js";
import { hashPassword, verifyPassword } from "../auth/passwords.js";
import { requireActor, requireApi, type Principal } from "../auth/permissions.js";
import { pageRequest, sortDirection, toPage } from "../pagination.js";
import { validatePrincipalName } from "../names.js";

export interface UserInput {
  type?: string | null;
  pass?: string | null;
  email?: string | null;
  roles?: string[] | null;
  enabled?: boolean | null;
}

const SORT_FIELDS = { username: "name", email: "email", enabled: "enabled", auth_provider: "authType" } as const;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export class UserService {
  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
  ) {}

  async list(actor: Principal | null, args: { page?: number | null; size?: number | null; q?: string | null; sort?: string | null; sortDir?: string | null }) {
    requireApi(actor, "api_user_permissions", "read");
    const req = pageRequest(args.page, args.size);
    const sortKey = (args.sort ?? "username") as keyof typeof SORT_FIELDS;
    if (!Object.prototype.hasOwnProperty.call(SORT_FIELDS, sortKey)) throw badRequest("'sort' must be one of: " + Object.keys(SORT_FIELDS).join(", "));
    const dir = sortDirection(args.sortDir);
    const q = args.q?.trim();
    const where: Prisma.UserWhereInput = q ? { OR: [{ name: { contains: q, mode: "insensitive" } }, { email: { contains: q, mode: "insensitive" } }] } : {};
    const orderBy: Prisma.UserOrderByWithRelationInput[] = [{ [SORT_FIELDS[sortKey]]: dir }, { name: "asc" }];
    const [items, total] = await Promise.all([
      this.prisma.user.findMany({ where, orderBy, skip: req.page * req.size, take: req.size }),
      this.prisma.user.count({ where }),
    ]);
    return toPage(items, total, req);
  }

  async get(actor: Principal | null, name: string) {
    requireApi(actor, "api_user_permissions", "read");
    const user = await this.prisma.user.findUnique({ where: { name } });
    if (!user) throw notFound(`User '${name}' not found`);
    return user;
  }

  /** Creates or updates; returns whether the user was created. */
  async put(actor: Principal | null, name: string, input: UserInput): Promise<{ created: boolean }> {
    const existing = await this.prisma.user.findUnique({ where: { name } });
    requireApi(actor, "api_user_permissions", existing ? "update" : "create");
    validatePrincipalName("User", name);
    const type = input.type ?? existing?.authType ?? "plain";
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(type)) throw badRequest(`Invalid user type '${type}'`);
    if (input.pass !== undefined && input.pass !== null && input.pass.length === 0) throw badRequest("'pass' must not be empty");
    if (!existing && type === "plain" && !input.pass) throw badRequest("'pass' is required to create a user");
    if (input.email !== undefined && input.email !== null && input.email !== "" && !EMAIL.test(input.email)) {
      throw badRequest(`Invalid email address '${input.email}'`);
    }
    let roleIds: string[] | undefined;
    if (input.roles) {
      const names = [...new Set(input.roles)];
      const roles = await this.prisma.role.findMany({ where: { name: { in: names } }, select: { id: true, name: true } });
      const missing = names.filter((n) => !roles.some((r) => r.name === n));
      if (missing.length) throw badRequest(`Unknown role(s): ${missing.join(", ")}`);
      roleIds = roles.map((r) => r.id);
    }
    const passwordHash = input.pass ? await hashPassword(input.pass) : undefined;
    const data = {
      authType: type,
      email: input.email === undefined ? undefined : input.email || null,
      enabled: input.enabled ?? undefined,
      passwordHash,
    };
    const user = existing
      ? await this.prisma.user.update({ where: { id: existing.id }, data })
      : await this.prisma.user.create({ data: { name, ...data, enabled: input.enabled ?? true } });
    if (roleIds) {
      await this.prisma.$transaction([
        this.prisma.userRole.deleteMany({ where: { userId: user.id } }),
        this.prisma.userRole.createMany({ data: roleIds.map((roleId) => ({ userId: user.id, roleId })) }),
      ]);
    }
    await this.bus.publish({ type: "user.changed", userId: user.id });
    return { created: !existing };
  }

  async delete(actor: Principal | null, name: string): Promise<void> {
    requireApi(actor, "api_user_permissions", "delete");
    const user = await this.prisma.user.findUnique({ where: { name } });
    if (!user) throw notFound(`User '${name}' not found`);
    await this.prisma.user.delete({ where: { id: user.id } });
    await this.bus.publish({ type: "user.changed", userId: user.id });
  }

  /** Needs change_password, except for callers changing their own password; the old password is always checked. */
  async changePassword(actor: Principal | null, name: string, oldPass: string, newPass: string): Promise<void> {
    const me = requireActor(actor);
    if (me.name !== name) requireApi(me, "api_user_permissions", "change_password");
    if (!newPass) throw badRequest("'new_pass' must not be empty");
    const user = await this.prisma.user.findUnique({ where: { name } });
    if (!user) throw notFound(`User '${name}' not found`);
    if (!(await verifyPassword(oldPass ?? "", user.passwordHash))) throw unauthorized("Invalid old password");
    await this.prisma.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(newPass) } });
    await this.bus.publish({ type: "user.changed", userId: user.id });
  }

  async setEnabled(actor: Principal | null, name: string, enabled: boolean): Promise<void> {
    requireApi(actor, "api_user_permissions", "enable");
    const user = await this.prisma.user.findUnique({ where: { name } });
    if (!user) throw notFound(`User '${name}' not found`);
    await this.prisma.user.update({ where: { id: user.id }, data: { enabled } });
    await this.bus.publish({ type: "user.changed", userId: user.id });
  }

  /** Role names per user id, for batched loading. */
  async roleNames(userIds: readonly string[]): Promise<string[][]> {
    const links = await this.prisma.userRole.findMany({ where: { userId: { in: [...userIds] } }, include: { role: { select: { name: true } } } });
    const byUser = new Map<string, string[]>();
    for (const l of links) byUser.set(l.userId, [...(byUser.get(l.userId) ?? []), l.role.name]);
    return userIds.map((id) => (byUser.get(id) ?? []).sort());
  }
}
