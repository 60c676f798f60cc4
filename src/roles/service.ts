// Role management: named permission sets, enabled or disabled as a whole.
import type { Prisma, PrismaClient } from "../db/index.js";
import type { EventBus } from "../events/bus.js";
import { badRequest, notFound } from "../errors.js";
import { requireApi, validatePermissions, type Principal } from "../auth/permissions.js";
import { pageRequest, sortDirection, toPage } from "../pagination.js";
import { validatePrincipalName } from "../names.js";

const SORT_FIELDS = { name: "name", enabled: "enabled" } as const;

export class RoleService {
  constructor(
    private prisma: PrismaClient,
    private bus: EventBus,
  ) {}

  async list(actor: Principal | null, args: { page?: number | null; size?: number | null; q?: string | null; sort?: string | null; sortDir?: string | null }) {
    requireApi(actor, "api_role_permissions", "read");
    const req = pageRequest(args.page, args.size);
    const sortKey = (args.sort ?? "name") as keyof typeof SORT_FIELDS;
    if (!Object.prototype.hasOwnProperty.call(SORT_FIELDS, sortKey)) throw badRequest("'sort' must be one of: " + Object.keys(SORT_FIELDS).join(", "));
    const dir = sortDirection(args.sortDir);
    const q = args.q?.trim();
    const where: Prisma.RoleWhereInput = q ? { name: { contains: q, mode: "insensitive" } } : {};
    const [items, total] = await Promise.all([
      this.prisma.role.findMany({ where, orderBy: [{ [SORT_FIELDS[sortKey]]: dir }, { name: "asc" }], skip: req.page * req.size, take: req.size }),
      this.prisma.role.count({ where }),
    ]);
    return toPage(items, total, req);
  }

  async get(actor: Principal | null, name: string) {
    requireApi(actor, "api_role_permissions", "read");
    const role = await this.prisma.role.findUnique({ where: { name } });
    if (!role) throw notFound(`Role '${name}' not found`);
    return role;
  }

  async put(actor: Principal | null, name: string, permissions: unknown, enabled?: boolean | null): Promise<{ created: boolean }> {
    const existing = await this.prisma.role.findUnique({ where: { name } });
    requireApi(actor, "api_role_permissions", existing ? "update" : "create");
    validatePrincipalName("Role", name);
    if (permissions === undefined || permissions === null) throw badRequest("'permissions' is required");
    const perms = validatePermissions(permissions) as Prisma.InputJsonValue;
    if (existing) await this.prisma.role.update({ where: { id: existing.id }, data: { permissions: perms, enabled: enabled ?? undefined } });
    else await this.prisma.role.create({ data: { name, permissions: perms, enabled: enabled ?? true } });
    await this.bus.publish({ type: "role.changed", name });
    return { created: !existing };
  }

  async delete(actor: Principal | null, name: string): Promise<void> {
    requireApi(actor, "api_role_permissions", "delete");
    const role = await this.prisma.role.findUnique({ where: { name } });
    if (!role) throw notFound(`Role '${name}' not found`);
    await this.prisma.role.delete({ where: { id: role.id } });
    await this.bus.publish({ type: "role.changed", name });
  }

  async setEnabled(actor: Principal | null, name: string, enabled: boolean): Promise<void> {
    requireApi(actor, "api_role_permissions", "enable");
    const role = await this.prisma.role.findUnique({ where: { name } });
    if (!role) throw notFound(`Role '${name}' not found`);
    await this.prisma.role.update({ where: { id: role.id }, data: { enabled } });
    await this.bus.publish({ type: "role.changed", name });
  }
}
