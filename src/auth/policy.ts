// Token policy (GET/PUT /admin/auth-settings): a view of the `jwt` settings section.
import { badRequest } from "../errors.js";
import { requireApi, type Principal } from "./permissions.js";
import { LOGIN_THROTTLE_DEFAULTS, type JwtSettings, type SettingsService } from "../settings/service.js";

export interface AuthSettingsPatch {
  access_token_expiry_seconds?: number | null;
  refresh_token_expiry_seconds?: number | null;
  api_token_max_expiry_days?: number | null;
  allow_permanent_tokens?: boolean | null;
  login_max_failures_per_user?: number | null;
  login_max_failures_per_address?: number | null;
  login_failure_window_seconds?: number | null;
  login_lockout_seconds?: number | null;
  login_lockout_max_seconds?: number | null;
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
    positive("login_max_failures_per_user", 1000);
    positive("login_max_failures_per_address", 100_000);
    positive("login_failure_window_seconds", 7 * 86400);
    positive("login_lockout_seconds", 86400);
    positive("login_lockout_max_seconds", 7 * 86400);
    const merged = { ...LOGIN_THROTTLE_DEFAULTS, ...(await this.settings.get("jwt")), ...out };
    if (merged.login_lockout_max_seconds < merged.login_lockout_seconds) {
      throw badRequest(
        `'login_lockout_max_seconds' (${merged.login_lockout_max_seconds}) must not be below 'login_lockout_seconds' (${merged.login_lockout_seconds})`,
      );
    }
    return (await this.settings.update("jwt", out)) as unknown as JwtSettings;
  }
}
