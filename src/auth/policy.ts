// Token policy (GET/PUT /admin/auth-settings): a view of the `jwt` settings section.
import { badRequest } from "../errors.js";
import { requireApi, type Principal } from "./permissions.js";
import type { JwtSettings, SettingsService } from "../settings/service.js";

export interface AuthSettingsPatch {
  access_token_expiry_seconds?: number | null;
  refresh_token_expiry_seconds?: number | null;
  api_token_max_expiry_days?: number | null;
  allow_permanent_tokens?: boolean | null;
}

export class TokenPolicyService {
  constructor(private settings: SettingsService) {}

  async get(actor: Principal | null): Promise<JwtSettings> {
    requireApi(actor, "api_role_permissions", "read");
    return (await this.settings.get("jwt")) as JwtSettings;
  }

  async update(actor: Principal | null, patch: AuthSettingsPatch): Promise<JwtSettings> {
    requireApi(actor, "api_role_permissions", "update");
    const out: Record<string, unknown> = {};
    const positive = (key: keyof AuthSettingsPatch, max: number) => {
      const v = patch[key];
      if (v === undefined || v === null) return;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) throw badRequest(`'${key}' must be an integer between 1 and ${max}`);
      out[key] = v;
    };
    positive("access_token_expiry_seconds", 31 * 86400);
    positive("refresh_token_expiry_seconds", 366 * 86400);
    positive("api_token_max_expiry_days", 3650);
    if (patch.allow_permanent_tokens !== undefined && patch.allow_permanent_tokens !== null) out.allow_permanent_tokens = patch.allow_permanent_tokens;
    return (await this.settings.update("jwt", out)) as unknown as JwtSettings;
  }
}
